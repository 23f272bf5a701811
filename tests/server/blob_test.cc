// Blobs through a real fieldbook-server on both backends: resumable chunked uploads,
// hash verification, limits, ranges, tenant and scope isolation, idempotence and garbage
// collection (docs/blobs.md).
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <thread>

#include "fieldbook/core/encryption.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/erasure.h"
#include "fieldbook/sync/protocol.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;
using namespace std::chrono_literals;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

RawHttpConnection::Response Exchange(const ServerProcess& server, const std::string& method, const std::string& path,
                                     const std::string& body, Headers headers) {
  RawHttpConnection c(server.port());
  REQUIRE(c.connected());
  REQUIRE(c.Send(HttpRequestText(method, path, body, headers)));
  auto r = c.Read(std::chrono::milliseconds(10000), method == "HEAD");
  REQUIRE(r);
  return *r;
}

std::string Bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

std::string ErrorCodeOf(const std::string& body) {
  auto e = sync::DecodeError(body);
  return e ? e->code : "<not an error body: " + body.substr(0, 200) + ">";
}

int64_t JsonInt(const std::string& body, const char* key, const char* inside = nullptr) {
  auto doc = ParseJson(body, "reply");
  REQUIRE(doc.ok());
  const rapidjson::Value* v = &*doc;
  if (inside) v = &(*v)[inside];
  REQUIRE(v->HasMember(key));
  return (*v)[key].GetInt64();
}

// A client of the blob routes for one token.
struct BlobClient {
  const ServerProcess& server;
  std::string token;

  RawHttpConnection::Response Put(const std::string& sha, const std::string& chunk, int64_t start = -1,
                                  int64_t total = -1) {
    Headers h = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/octet-stream"}};
    if (start >= 0) {
      h.emplace_back("Content-Range", "bytes " + std::to_string(start) + "-" +
                                          std::to_string(start + static_cast<int64_t>(chunk.size()) - 1) + "/" +
                                          std::to_string(total));
    }
    return Exchange(server, "PUT", "/v1/blobs/" + sha, chunk, h);
  }
  RawHttpConnection::Response Get(const std::string& sha, const std::string& range = "") {
    Headers h = {{"Authorization", "Bearer " + token}};
    if (!range.empty()) h.emplace_back("Range", range);
    return Exchange(server, "GET", "/v1/blobs/" + sha, "", h);
  }
  RawHttpConnection::Response Head(const std::string& sha) {
    return Exchange(server, "HEAD", "/v1/blobs/" + sha, "", {{"Authorization", "Bearer " + token}});
  }
};

std::string Header(const RawHttpConnection::Response& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

}  // namespace

TEST_CASE("blobs: a chunked upload resumes where the server is and is served whole and by range", "[server][blobs]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  BlobClient a{server, server.Token("agent-1", "team-1")};
  const std::string content = Bytes(300000, 1);
  const std::string sha = sync::Sha256Hex(content);
  const int64_t total = static_cast<int64_t>(content.size());

  // Nothing yet: HEAD says so (404), GET too.
  CHECK(a.Head(sha).status == 404);
  CHECK(a.Get(sha).status == 404);

  auto first = a.Put(sha, content.substr(0, 100000), 0, total);
  REQUIRE(first.status == 200);
  CHECK(JsonInt(first.body, "offset") == 100000);
  CHECK(Header(first, "upload-offset") == "100000");

  // The client "lost" the answer and the connection: it asks where the server is.
  auto head = a.Head(sha);
  REQUIRE(head.status == 200);
  CHECK(Header(head, "upload-offset") == "100000");
  CHECK(Header(head, "upload-length") == std::to_string(total));
  CHECK(Header(head, "upload-complete") == "false");
  CHECK(a.Get(sha).status == 404);  // incomplete blobs are not served

  // A chunk out of order is refused with the offset to resume from; nothing is stored.
  auto ahead = a.Put(sha, content.substr(200000, 100000), 200000, total);
  CHECK(ahead.status == 409);
  CHECK(ErrorCodeOf(ahead.body) == "offset_mismatch");
  CHECK(JsonInt(ahead.body, "offset", "error") == 100000);
  auto again = a.Put(sha, content.substr(0, 100000), 0, total);  // a repeated first chunk
  CHECK(again.status == 409);
  CHECK(JsonInt(again.body, "offset", "error") == 100000);

  REQUIRE(a.Put(sha, content.substr(100000, 100000), 100000, total).status == 200);
  auto last = a.Put(sha, content.substr(200000), 200000, total);
  REQUIRE(last.status == 200);
  CHECK(last.body.find("\"complete\":true") != std::string::npos);

  auto whole = a.Get(sha);
  REQUIRE(whole.status == 200);
  CHECK(whole.body == content);
  auto part = a.Get(sha, "bytes=1000-1999");
  REQUIRE(part.status == 206);
  CHECK(part.body == content.substr(1000, 1000));
  CHECK(Header(part, "content-range") == "bytes 1000-1999/" + std::to_string(total));
  auto tail = a.Get(sha, "bytes=-10");
  REQUIRE(tail.status == 206);
  CHECK(tail.body == content.substr(content.size() - 10));
  auto open = a.Get(sha, "bytes=299990-");
  REQUIRE(open.status == 206);
  CHECK(open.body == content.substr(299990));
  auto clamped = a.Get(sha, "bytes=299990-99999999999999999999999");
  REQUIRE(clamped.status == 206);
  CHECK(clamped.body == content.substr(299990));
  for (const char* outside : {"bytes=300000-300010", "bytes=400000-", "bytes=-0"}) {
    INFO(outside);
    auto r = a.Get(sha, outside);
    CHECK(r.status == 416);
    CHECK(ErrorCodeOf(r.body) == "range_not_satisfiable");
    CHECK(Header(r, "content-range") == "bytes */" + std::to_string(total));
  }
  // RFC 9110: another unit, an invalid range and (not served as multipart) several ranges
  // are ignored: the whole blob comes back.
  for (const char* ignored : {"bytes=5-2", "lines=1-2", "bytes=0-1,3-4", "bytes=x-3", "bytes"}) {
    INFO(ignored);
    auto r = a.Get(sha, ignored);
    CHECK(r.status == 200);
    CHECK(r.body == content);
  }

  // Idempotent: uploading it again (whole, or any chunk) succeeds and changes nothing.
  auto repeat = a.Put(sha, content);
  CHECK(repeat.status == 200);
  CHECK(repeat.body.find("\"complete\":true") != std::string::npos);
  CHECK(a.Put(sha, content.substr(0, 10), 0, total).status == 200);
  CHECK(a.Get(sha).body == content);

  // Bad names are refused before anything else.
  CHECK(a.Get("ABC").status == 400);
  CHECK(a.Get(std::string(64, 'A')).status == 400);
  const auto metrics = Exchange(server, "GET", "/metrics", "", {}).body;
  CHECK(metrics.find("fieldbook_blob_bytes_received_total 300000") != std::string::npos);
}

TEST_CASE("blobs: content that does not hash to its name is refused with 422 and nothing is kept",
          "[server][blobs]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  BlobClient a{server, server.Token("agent-1", "team-1")};
  const std::string content = Bytes(5000, 2);
  const std::string sha = sync::Sha256Hex(content);
  std::string tampered = content;
  tampered[4000] ^= 1;
  REQUIRE(a.Put(sha, tampered.substr(0, 3000), 0, 5000).status == 200);
  auto r = a.Put(sha, tampered.substr(3000), 3000, 5000);
  CHECK(r.status == 422);
  CHECK(ErrorCodeOf(r.body) == "hash_mismatch");
  CHECK(a.Head(sha).status == 404);  // the partial upload is gone
  CHECK(a.Get(sha).status == 404);
  // The genuine content then uploads from the start.
  CHECK(a.Put(sha, content).status == 200);
  CHECK(a.Get(sha).body == content);
  // A whole-body PUT under a wrong name, too.
  const std::string wrong = sync::Sha256Hex("something else");
  CHECK(a.Put(wrong, content).status == 422);
  CHECK(a.Head(wrong).status == 404);
}

TEST_CASE("blobs: a blob over --max-blob-bytes is refused with 413 naming the limit, before storing anything",
          "[server][blobs]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions::WithArgs({"--max-blob-bytes", "10000"}));
  BlobClient a{server, server.Token("agent-1", "team-1")};
  const std::string big = Bytes(10001, 3);
  const std::string sha = sync::Sha256Hex(big);
  auto chunk = a.Put(sha, big.substr(0, 1000), 0, 10001);  // the declared total counts
  CHECK(chunk.status == 413);
  CHECK(ErrorCodeOf(chunk.body) == "payload_too_large");
  CHECK(chunk.body.find("10000") != std::string::npos);
  CHECK(a.Head(sha).status == 404);
  CHECK(a.Put(sha, big).status == 413);
  const std::string fits = Bytes(10000, 4);
  CHECK(a.Put(sync::Sha256Hex(fits), fits).status == 200);
}

TEST_CASE("blobs: other tenants never see a blob, agents see those they uploaded or may see a row naming",
          "[server][blobs]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  BlobClient owner{server, server.Token("agent-1", "team-1")};
  BlobClient colleague{server, server.Token("agent-2", "team-1")};
  BlobClient lead{server, server.Token("lead-1", "team-1", server::Role::kLead)};
  BlobClient other_lead{server, server.Token("lead-2", "team-2", server::Role::kLead)};
  BlobClient admin{server, server.Token("boss", "", server::Role::kAdmin)};
  BlobClient stranger{server, server.Token("agent-1", "team-1", server::Role::kAdmin, "t2")};
  const std::string photo = Bytes(2000, 5);
  const std::string sha = sync::Sha256Hex(photo);
  REQUIRE(owner.Put(sha, photo).status == 200);

  CHECK(owner.Get(sha).status == 200);        // the uploader, before any row names it
  CHECK(colleague.Get(sha).status == 404);    // not yet referenced: does not exist for others
  CHECK(lead.Get(sha).status == 404);
  CHECK(admin.Get(sha).status == 200);        // admins see the tenant
  auto cross = stranger.Get(sha);             // another tenant, even as its admin
  CHECK(cross.status == 404);
  CHECK(ErrorCodeOf(cross.body) == "not_found");
  CHECK(stranger.Head(sha).status == 404);

  // A visit of agent-1's customer names it.
  sync::CpprestTransport transport(server.base_url());
  TestDevice device(dir.File("a.db"), "agent-1", "team-1");
  auto customer = device.archive->Add("customers", R"({"kind":"person","name":"王五","value_tier":"general"})");
  REQUIRE(customer.ok());
  REQUIRE(device.archive->Add("visits", R"({"customer_id":")" + *customer +
                                             R"(","channel":"visit","visited_at":1767225600000,"photos":[{"sha256":")" +
                                             sha + R"(","caption":"门头"}]})").ok());
  auto synced = device.Sync(transport, owner.token);
  INFO(synced.status().ToString());
  REQUIRE(synced.ok());

  CHECK(lead.Get(sha).status == 200);         // the team lead sees the visit
  CHECK(colleague.Get(sha).status == 404);    // another agent's customer
  CHECK(other_lead.Get(sha).status == 404);   // another team
  CHECK(stranger.Get(sha).status == 404);
  // Another tenant uploading the same bytes gets its own copy; nothing is shared.
  CHECK(stranger.Put(sha, photo.substr(0, 100), 0, 2000).status == 200);
  CHECK(stranger.Head(sha).status == 200);
  CHECK(Header(stranger.Head(sha), "upload-complete") == "false");
  CHECK(owner.Get(sha).body == photo);

  // A scanned ID copy is sensitive like the ID number: named in customers.documents it is
  // for the owning agent and the admin, not for the team lead (data minimisation).
  const std::string scan = Bytes(3000, 9);
  const std::string scan_sha = sync::Sha256Hex(scan);
  REQUIRE(owner.Put(scan_sha, scan).status == 200);
  REQUIRE(device.archive->Set("customers", *customer, R"({"documents":[{"sha256":")" + scan_sha +
                                                          R"(","kind":"id_copy"}]})").ok());
  auto again = device.Sync(transport, owner.token);
  INFO(again.status().ToString());
  REQUIRE(again.ok());
  CHECK(owner.Get(scan_sha).body == scan);
  CHECK(admin.Get(scan_sha).status == 200);
  CHECK(lead.Get(scan_sha).status == 404);
  CHECK(colleague.Get(scan_sha).status == 404);
}

TEST_CASE("blobs: GC removes unreferenced and idle partial blobs after the grace period and keeps referenced ones",
          "[server][blobs]") {
  TempDir dir;
  // A grace of one second; the periodic pass runs every second too, so the test checks
  // outcomes, not which pass deleted what.
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions::WithArgs({"--blob-grace-seconds", "1"}));
  BlobClient a{server, server.Token("agent-1", "team-1")};
  BlobClient admin{server, server.Token("boss", "", server::Role::kAdmin)};
  const std::string kept = Bytes(1500, 6), orphan = Bytes(1500, 7), partial = Bytes(1500, 8);
  REQUIRE(a.Put(sync::Sha256Hex(kept), kept).status == 200);
  REQUIRE(a.Put(sync::Sha256Hex(orphan), orphan).status == 200);
  REQUIRE(a.Put(sync::Sha256Hex(partial), partial.substr(0, 500), 0, 1500).status == 200);

  sync::CpprestTransport transport(server.base_url());
  TestDevice device(dir.File("a.db"), "agent-1", "team-1");
  auto customer = device.archive->Add("customers", R"({"kind":"person","name":"赵六","value_tier":"general"})");
  REQUIRE(customer.ok());
  REQUIRE(device.archive->Add("visits", R"({"customer_id":")" + *customer +
                                             R"(","channel":"visit","visited_at":1767225600000,"photos":[")" +
                                             sync::Sha256Hex(kept) + R"("]})").ok());
  REQUIRE(device.Sync(transport, a.token).ok());

  // Within the grace period nothing goes, referenced or not.
  auto early = Exchange(server, "POST", "/v1/admin/blobs/gc", "", {{"Authorization", "Bearer " + admin.token}});
  REQUIRE(early.status == 200);
  std::this_thread::sleep_for(2500ms);
  auto gc = Exchange(server, "POST", "/v1/admin/blobs/gc", "", {{"Authorization", "Bearer " + admin.token}});
  REQUIRE(gc.status == 200);
  CHECK(JsonInt(gc.body, "deleted_complete") >= 0);
  CHECK(admin.Get(sync::Sha256Hex(kept)).body == kept);
  CHECK(admin.Get(sync::Sha256Hex(orphan)).status == 404);
  CHECK(admin.Head(sync::Sha256Hex(partial)).status == 404);
  const auto metrics = Exchange(server, "GET", "/metrics", "", {}).body;
  CHECK(metrics.find("fieldbook_blobs_collected_total 2") != std::string::npos);
  // Agents may not run it.
  CHECK(Exchange(server, "POST", "/v1/admin/blobs/gc", "", {{"Authorization", "Bearer " + a.token}}).status == 403);

  // Once the visit stops naming it, the kept blob goes too (after the grace period).
  auto visits = device.archive->List([] {
    ListQuery q;
    q.table = "visits";
    return q;
  }());
  REQUIRE(visits.ok());
  auto list = ParseJson(*visits, "visits");
  REQUIRE(list.ok());
  const std::string visit_id = (*list)[0]["id"].GetString();
  REQUIRE(device.archive->Set("visits", visit_id, R"({"photos":[]})").ok());
  REQUIRE(device.Sync(transport, a.token).ok());
  std::this_thread::sleep_for(2500ms);
  (void)Exchange(server, "POST", "/v1/admin/blobs/gc", "", {{"Authorization", "Bearer " + admin.token}});
  CHECK(admin.Get(sync::Sha256Hex(kept)).status == 404);
}

TEST_CASE("blobs: erasing a customer removes the blobs only it named, on the server and on the device",
          "[server][blobs][privacy]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");
  BlobClient admin{server, server.Token("boss", "", server::Role::kAdmin)};
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  // customers.documents is sensitive: in an encrypted profile its cells are sealed and
  // must be opened to know which blobs they name.
  const bool encrypted = GENERATE(false, true);
  CAPTURE(encrypted);
  if (encrypted) {
    for (TestDevice* d : {&a, &b}) {
      REQUIRE(UnlockStore(*d->store, std::string("erase-test-key-0123456789abcdef"), sync::SyncedTables(*d->store),
                          sync::Uncaptured(*d->store))
                  .ok());
    }
  }
  const std::string id_copy = Bytes(4000, 9), shared = Bytes(3000, 10);
  auto sha_id = sync::PutLocalBlob(*a.store, id_copy);
  auto sha_shared = sync::PutLocalBlob(*a.store, shared);
  REQUIRE(sha_id.ok());
  REQUIRE(sha_shared.ok());
  auto erased = a.archive->Add("customers", R"({"kind":"person","name":"孙七","value_tier":"general","documents":[")" +
                                                *sha_id + R"(",")" + *sha_shared + R"("]})");
  auto other = a.archive->Add("customers", R"({"kind":"person","name":"周八","value_tier":"general","documents":[")" +
                                               *sha_shared + R"("]})");
  REQUIRE(erased.ok());
  REQUIRE(other.ok());
  auto first = a.Sync(transport, token);
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK(first->blobs_uploaded == 2);
  REQUIRE(b.Sync(transport, token).ok());
  sync::BlobTransferOptions options;
  options.token = token;
  options.chunk_bytes = 1000;  // several ranges
  auto fetched = sync::FetchBlob(*b.store, transport, *sha_id, options);
  REQUIRE(fetched.ok());
  CHECK(*fetched == id_copy);

  REQUIRE(sync::EraseRoot(*a.store, sync::EraseRequest{"customers", *erased, "agent-1", SystemEnv().NowMs()}).ok());
  auto local = sync::GetLocalBlob(*a.store, *sha_id);
  REQUIRE(local.ok());
  CHECK(!*local);  // gone from the erasing device at once
  REQUIRE(a.Sync(transport, token).ok());
  CHECK(admin.Get(*sha_id).status == 404);               // and from the server
  CHECK(admin.Get(*sha_shared).body == shared);          // still named by another customer
  REQUIRE(b.Sync(transport, token).ok());
  auto on_b = sync::GetLocalBlob(*b.store, *sha_id);
  REQUIRE(on_b.ok());
  CHECK(!*on_b);                                         // and from the other device
  auto refetch = sync::FetchBlob(*b.store, transport, *sha_id, options);
  CHECK(refetch.status().code() == ErrorCode::kNotFound);
}

namespace {

// Passes requests on until `fail_after` have gone, then reports the server unreachable.
class FlakyTransport : public sync::Transport {
 public:
  FlakyTransport(sync::Transport& inner, int fail_after) : inner_(inner), left_(fail_after) {}
  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override {
    if (left_-- <= 0) return Status(ErrorCode::kUnreachable, "connection reset (injected)");
    ++sent_;
    return inner_.Send(request);
  }
  int sent() const { return sent_; }

 private:
  sync::Transport& inner_;
  int left_;
  int sent_ = 0;
};

}  // namespace

TEST_CASE("blobs: a device's upload interrupted mid-way resumes at the server's offset, in an encrypted profile",
          "[server][blobs]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  REQUIRE(UnlockStore(*a.store, std::string("blob-test-key-0123456789abcdef"), sync::SyncedTables(*a.store),
                      sync::Uncaptured(*a.store))
              .ok());
  const std::string content = Bytes(5500, 11);
  auto sha = sync::PutLocalBlob(*a.store, content);
  REQUIRE(sha.ok());
  {
    // Sealed at rest: the bytes do not appear in the profile.
    auto st = a.store->Prepare("SELECT data FROM fb_blobs WHERE sha256 = ?1");
    REQUIRE(st.ok());
    st->Bind(1, *sha);
    REQUIRE(*st->Step());
    CHECK(st->Text(0).substr(0, 7) == "fbenc1:");
    CHECK(st->Text(0).find(content.substr(100, 64)) == std::string_view::npos);
  }
  sync::BlobTransferOptions options;
  options.token = token;
  options.chunk_bytes = 1000;
  FlakyTransport flaky(transport, 3);  // three chunks arrive, then the network goes
  auto cut = sync::UploadPendingBlobs(*a.store, flaky, options);
  CHECK(cut.status().code() == ErrorCode::kUnreachable);
  BlobClient admin{server, server.Token("boss", "", server::Role::kAdmin)};
  CHECK(Header(admin.Head(*sha), "upload-offset") == "3000");

  // The device forgets what it had acknowledged: the server's 409 tells it where to go on.
  REQUIRE(a.store->Exec("UPDATE fb_blobs SET offset = 0").ok());
  FlakyTransport rest(transport, 100);
  auto done = sync::UploadPendingBlobs(*a.store, rest, options);
  INFO(done.status().ToString());
  REQUIRE(done.ok());
  CHECK(done->uploaded == 1);
  CHECK(rest.sent() == 4);  // one 409, then 3000-3999, 4000-4999, 5000-5499
  CHECK(admin.Get(*sha).body == content);
  auto local = sync::GetLocalBlob(*a.store, *sha);
  REQUIRE(local.ok());
  CHECK(**local == content);
}
