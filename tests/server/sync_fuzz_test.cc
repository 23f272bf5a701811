// Mutation fuzzing of the sync protocol in both directions, seeded and repeatable.
//
// Requests and responses of real syncs (block creations, row-wise updates, text merges,
// deletions, visits, policies) are recorded, then mutated byte by byte and token by token
// (flips, truncations, duplicated ranges, huge and malformed numbers, long strings, broken
// escapes and UTF-8, corrupted gzip) and replayed:
//  - to the server: every reply is a JSON body with a 2xx or 4xx status (a 5xx is a bug),
//    a refusal names its code and message, and a refused request changes nothing stored;
//  - to a device, as the server's answer: the device never crashes and its store stays
//    intact, whatever it is told.
//  - to a real server process, as raw HTTP (headers mangled, lengths that lie, chunking
//    gone wrong): it answers or closes, never with a 5xx, and keeps serving.
// FIELDBOOK_FUZZ_ITERATIONS=N runs N mutations per direction (default 1200); a failure
// prints the seed and the iteration, FIELDBOOK_FUZZ_SEED=S replays one seed.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fieldbook/core/json.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/protocol.h"
#include "support/server_process.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

std::string Plain(const std::string& body) {
  if (!sync::LooksGzipped(body)) return body;
  auto inflated = sync::Gunzip(body, size_t{64} << 20);
  REQUIRE(inflated.ok());
  return *inflated;
}

// For messages: the JSON when it inflates, else the bytes as they are.
std::string Shown(const std::string& body, size_t max) {
  auto inflated = sync::LooksGzipped(body) ? sync::Gunzip(body, size_t{64} << 20) : Result<std::string>(body);
  return (inflated.ok() ? *inflated : body).substr(0, max);
}

// Remembers the JSON of every request and 200 response that passes through.
class RecordingTransport : public sync::Transport {
 public:
  explicit RecordingTransport(sync::Transport& inner) : inner_(inner) {}
  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override {
    requests.push_back(Plain(request.body));
    auto reply = inner_.Send(request);
    if (reply.ok() && reply->status == 200) responses.push_back(Plain(reply->body));
    return reply;
  }
  std::vector<std::string> requests;
  std::vector<std::string> responses;

 private:
  sync::Transport& inner_;
};

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }

  std::string Mutate(std::string s) {
    const int rounds = 1 + static_cast<int>(Below(3));
    for (int i = 0; i < rounds; ++i) MutateOnce(s);
    return s;
  }

 private:
  void MutateOnce(std::string& s) {
    static const char* const kTokens[] = {
        "null", "true", "false", "0", "-0", "-1", "1e999", "-1e999", "1e-400", "0.5", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "\"\"", "\"x\"", "[]", "{}",
        "[[]]", "{\"\":null}", "\"\\ud800\"", "\"\\u0000\"", "\"\\\"", "\xff", "\xc3", "\xe4\xb8", ",", ":", "\"",
        "[", "]", "{", "}", "\"op\":\"delete\"", "\"op\":\"create\"", "\"blocks\":true", "\"cursor\":-5",
        "\"limit\":2147483647", "\"h\":[]", "\"v\":[[1]]", "\"cols\":[\"id\"]", "\"x\":{\"0\":{\"name\":[1,\"s\"]}}"};
    const size_t n = s.size();
    switch (Below(9)) {
      case 0:  // flip a bit
        if (n) s[Below(n)] ^= static_cast<char>(1u << Below(8));
        break;
      case 1: {  // a structural character somewhere
        static const std::string kChars = "{}[]\",:\\0123456789eE+-. ntfu\x01\x7f";
        if (n) s[Below(n)] = kChars[Below(kChars.size())];
        break;
      }
      case 2: {  // drop a range
        if (!n) break;
        const size_t at = Below(n);
        s.erase(at, 1 + Below(std::min<size_t>(64, n - at)));
        break;
      }
      case 3: {  // repeat a range
        if (!n) break;
        const size_t at = Below(n);
        const std::string piece = s.substr(at, 1 + Below(std::min<size_t>(256, n - at)));
        s.insert(Below(n + 1), piece);
        break;
      }
      case 4:  // a token where it may or may not belong
        s.insert(Below(n + 1), kTokens[Below(sizeof(kTokens) / sizeof(kTokens[0]))]);
        break;
      case 5: {  // a number replaced by an odd one
        std::vector<size_t> starts;
        for (size_t i = 0; i < n; ++i) {
          if (std::isdigit(static_cast<unsigned char>(s[i])) && (i == 0 || !std::isalnum(static_cast<unsigned char>(s[i - 1])))) {
            starts.push_back(i);
          }
        }
        if (starts.empty()) break;
        const size_t at = starts[Below(starts.size())];
        size_t end = at;
        while (end < n && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.')) ++end;
        static const char* const kNumbers[] = {"0", "-1", "1.5", "1e999", "9223372036854775807", "9223372036854775808",
                                               "4294967296", "2147483648", "-9223372036854775808", "99999999999999999999"};
        s.replace(at, end - at, kNumbers[Below(sizeof(kNumbers) / sizeof(kNumbers[0]))]);
        break;
      }
      case 6: {  // a string's contents made long or strange
        const size_t q = s.find('"', Below(n + 1));
        if (q == std::string::npos) break;
        static const std::string kLong(70000, 'z');
        static const char* const kStrings[] = {"", "\\u0000", "\\ud83d", "\\ud83d\\ude00", "\xe5\xbc\xa0", "a\\\"b", "../x"};
        s.insert(q + 1, Chance(30) ? kLong : std::string(kStrings[Below(sizeof(kStrings) / sizeof(kStrings[0]))]));
        break;
      }
      case 7:  // cut short
        s.resize(Below(n + 1));
        break;
      default: {  // swap two ranges' places: values land under other keys
        if (n < 4) break;
        const size_t a = Below(n / 2), b = n / 2 + Below(n - n / 2);
        const size_t len = 1 + Below(std::min<size_t>({32, b - a, n - b}));
        std::swap_ranges(s.begin() + static_cast<std::ptrdiff_t>(a), s.begin() + static_cast<std::ptrdiff_t>(a + len),
                         s.begin() + static_cast<std::ptrdiff_t>(b));
        break;
      }
    }
  }

  std::mt19937_64 rng_;
};

// The first column of the first row of `sql`, read through a connection of its own.
std::string QueryText(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const unsigned char* text = sqlite3_column_text(st, 0);
  std::string out = text ? reinterpret_cast<const char*>(text) : "";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// What a refused request must not change: sequence, rows, roots, references, batches.
std::string StoredState(const std::string& path) {
  return QueryText(path,
                   "SELECT (SELECT group_concat(tenant || ':' || seq) FROM srv_tenants) || '|' ||"
                   " (SELECT count(*) || ':' || total(seq) || ':' || total(length(body)) || ':' || total(deleted)"
                   " FROM srv_rows) || '|' || (SELECT count(*) FROM srv_roots) || '|' ||"
                   " (SELECT count(*) FROM srv_refs) || '|' || (SELECT count(*) FROM srv_batches) || '|' ||"
                   " (SELECT count(*) FROM srv_scope_log)");
}

// Two devices of one agent: a block of creations with children, edits on both sides
// (one of them a same-field conflict), a note edited three-way, a deletion.
struct Recorded {
  std::vector<std::string> requests;
  std::vector<std::string> responses;
};

Recorded RecordSyncs(TestServer& server, const TempDir& dir, const std::string& token) {
  RecordingTransport recorder(*server.transport);
  TestDevice a(dir.File("rec-a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("rec-b.db"), "agent-1", "team-1");
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    auto id = a.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) +
                                              R"(","phones":["1380013800)" + std::to_string(i) +
                                              R"("],"notes":"第一行\n第二行","birth_date":"1980-02-29"})");
    REQUIRE(id.ok());
    ids.push_back(*id);
  }
  REQUIRE(a.archive->Add("policies", R"({"policy_number":"P-1","product":"寿险","effective_date":"2024-02-29","premium":100000,"payment_frequency":"quarterly"})", ids[0]).ok());
  REQUIRE(a.archive->Add("visits", R"({"channel":"visit","outcome":"见面"})", ids[1]).ok());
  REQUIRE(a.Sync(recorder, token).ok());
  REQUIRE(b.Sync(recorder, token).ok());
  REQUIRE(a.archive->Set("customers", ids[0], R"({"value_tier":"high","notes":"第一行改\n第二行"})").ok());
  REQUIRE(b.archive->Set("customers", ids[0], R"({"value_tier":"potential","notes":"第一行\n第二行改"})").ok());
  REQUIRE(b.archive->Remove("customers", ids[5]).ok());
  REQUIRE(a.Sync(recorder, token).ok());
  REQUIRE(b.Sync(recorder, token).ok());
  REQUIRE(a.Sync(recorder, token).ok());
  return Recorded{recorder.requests, recorder.responses};
}

sync::HttpRequest SyncRequestOf(std::string body, const std::string& token, bool gzip) {
  sync::HttpRequest http;
  http.path = "/v1/sync";
  http.headers = {{"Content-Type", "application/json"}, {"Accept-Encoding", "gzip"},
                  {"Authorization", "Bearer " + token}};
  if (gzip) http.headers.emplace_back("Content-Encoding", "gzip");
  http.body = std::move(body);
  return http;
}

// Answers with the inner server's replies, each mutated with some probability.
class HostileServer : public sync::Transport {
 public:
  HostileServer(sync::Transport& inner, Mutator& m, const std::vector<std::string>& replay)
      : inner_(inner), m_(m), replay_(replay) {}
  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override {
    auto reply = inner_.Send(request);
    if (!reply.ok() || !m_.Chance(70)) return reply;
    // Either this reply mutated, or a recorded one (rows of other devices, blocks) mutated.
    std::string body = m_.Chance(50) || replay_.empty() ? Plain(reply->body) : replay_[m_.Below(replay_.size())];
    body = m_.Mutate(std::move(body));
    if (m_.Chance(20)) body = sync::Gzip(body, 6);
    if (m_.Chance(5) && body.size() > 20) body[10 + m_.Below(body.size() - 10)] ^= 0x20;  // damaged after gzip
    const int status = m_.Chance(90) ? 200 : std::vector<int>{400, 401, 403, 409, 413, 500, 503}[m_.Below(7)];
    return sync::HttpResponse{status, std::move(body)};
  }

 private:
  sync::Transport& inner_;
  Mutator& m_;
  const std::vector<std::string>& replay_;
};

// Sends `bytes` on a new connection, closes the sending side and reads until the server
// closes or `timeout` passes. The HTTP status of the first response, 0 when none came.
int SendRaw(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on a request it refused
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (in.rfind("HTTP/1.1 ", 0) != 0 || in.size() < 12) return 0;
  return std::atoi(in.substr(9, 3).c_str());
}

std::string HttpMessage(const std::string& head, const std::string& body) {
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("fuzz: mutated sync requests get a 4xx naming what is wrong and change nothing", "[server][fuzz]") {
  const uint64_t seed = EnvNumber("FIELDBOOK_FUZZ_SEED", 20261204);
  const int iterations = static_cast<int>(EnvNumber("FIELDBOOK_FUZZ_ITERATIONS", 1200));
  TempDir dir;
  const std::string db = dir.File("server.db");
  TestServer server(db);
  const std::string token = server.Token("agent-1", "team-1");
  const Recorded rec = RecordSyncs(server, dir, token);
  REQUIRE(rec.requests.size() >= 5);

  Mutator m(seed);
  int accepted = 0, refused = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string body = rec.requests[m.Below(rec.requests.size())];
    // Most mutations get a fresh batch id, so they reach decoding, scope and merge rather
    // than the answer kept for a batch already applied.
    if (m.Chance(60)) {
      const size_t at = body.find("\"batch\":\"");
      if (at != std::string::npos) body.insert(at + 9, "fz" + std::to_string(i) + "-");
    }
    body = m.Mutate(std::move(body));
    bool gzip = m.Chance(20);
    if (gzip) body = sync::Gzip(body, 6);
    if (gzip && m.Chance(25) && body.size() > 20) body[10 + m.Below(body.size() - 10)] ^= 0x41;
    if (!gzip && m.Chance(3)) gzip = true;  // says gzip, is not

    const std::string before = StoredState(db);
    auto reply = server.transport->Send(SyncRequestOf(body, token, gzip));
    INFO("seed " << seed << " iteration " << i << " body " << Shown(body, 600));
    REQUIRE(reply.ok());
    INFO("status " << reply->status << " reply " << Shown(reply->body, 400));
    CHECK(reply->status >= 200);
    CHECK(reply->status < 500);
    if (reply->status == 200) {
      ++accepted;
      CHECK(sync::DecodeResponse(Plain(reply->body)).ok());
      continue;
    }
    ++refused;
    const auto error = sync::DecodeError(Plain(reply->body));
    REQUIRE(error);
    CHECK_FALSE(error->code.empty());
    CHECK_FALSE(error->message.empty());
    CHECK(StoredState(db) == before);
  }
  INFO("accepted " << accepted << ", refused " << refused);
  CHECK(refused > iterations / 4);  // the mutations do reach the checks

  // The server still serves: a device syncs and holds what the server kept.
  TestDevice fresh(dir.File("fresh.db"), "agent-1", "team-1");
  auto synced = fresh.Sync(*server.transport, token);
  INFO(synced.status().ToString());
  REQUIRE(synced.ok());
  CHECK(synced->pulled > 0);
}

TEST_CASE("fuzz: a device told nonsense by its server neither crashes nor damages its store", "[server][fuzz]") {
  const uint64_t seed = EnvNumber("FIELDBOOK_FUZZ_SEED", 20261204) + 1;
  const int iterations = static_cast<int>(EnvNumber("FIELDBOOK_FUZZ_ITERATIONS", 1200));
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  const Recorded rec = RecordSyncs(server, dir, token);
  REQUIRE_FALSE(rec.responses.empty());

  Mutator m(seed);
  HostileServer hostile(*server.transport, m, rec.responses);
  TestDevice d(dir.File("device.db"), "agent-1", "team-1");
  auto own = d.archive->Add("customers", R"({"name":"王五","phones":["13700137000"]})");
  REQUIRE(own.ok());
  int failed = 0;
  for (int i = 0; i < iterations; ++i) {
    INFO("seed " << seed << " iteration " << i);
    if (m.Chance(20)) {
      REQUIRE(d.archive->Set("customers", *own, R"({"notes":"第)" + std::to_string(i) + R"(次"})").ok());
    }
    auto r = d.Sync(hostile, token);
    if (!r.ok()) {
      ++failed;
      CHECK_FALSE(r.status().message().empty());
    }
  }
  CHECK(failed > 0);
  CHECK(QueryText(dir.File("device.db"), "PRAGMA integrity_check") == "ok");
  // The agent's own customer is still there.
  auto shown = d.archive->Show("customers", *own);
  REQUIRE(shown.ok());
  CHECK(shown->find("王五") != std::string::npos);
  CHECK(ParseJson(d.Export(), "export").ok());
}

TEST_CASE("fuzz: the server process answers mangled HTTP and stays up", "[server][fuzz]") {
  const uint64_t seed = EnvNumber("FIELDBOOK_FUZZ_SEED", 20261204) + 2;
  const int iterations = static_cast<int>(EnvNumber("FIELDBOOK_FUZZ_ITERATIONS", 1200)) / 3;
  ServerProcess server;
  INFO(server.error());
  REQUIRE(server.ok());
  const std::string token = server.Token("agent-1", "team-1");
  const std::string body =
      R"({"protocol":1,"site":"fuzz-site","request":1,"batch":"b1","cursor":0,"blocks":true,"changes":[)"
      R"({"t":"customers","r":"c1","op":"create","h":1700000000000000,"c":{"name":"甲","phones":["13800138000"]}}]})";
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  const std::vector<std::string> messages = {
      HttpMessage("POST /v1/sync HTTP/1.1\r\nHost: fb\r\n" + auth + "Content-Type: application/json\r\n", body),
      HttpMessage("POST /v1/sync HTTP/1.1\r\nHost: fb\r\n" + auth + "Content-Encoding: gzip\r\n", sync::Gzip(body, 6)),
      "POST /v1/sync HTTP/1.1\r\nHost: fb\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n10\r\n" + body.substr(0, 16) +
          "\r\n" + [&] { char n[16]; std::snprintf(n, sizeof n, "%zx", body.size() - 16); return std::string(n); }() +
          "\r\n" + body.substr(16) + "\r\n0\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: fb\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nHost: fb\r\n\r\n",
      HttpMessage("PUT /v1/blobs/" + std::string(64, 'a') + " HTTP/1.1\r\nHost: fb\r\n" + auth +
                      "Content-Range: bytes 0-4/5\r\n",
                  "hello"),
      "GET /v1/blobs/" + std::string(64, 'a') + " HTTP/1.1\r\nHost: fb\r\n" + auth + "Range: bytes=0-1\r\n\r\n",
  };
  static const char* const kHeaders[] = {
      "Content-Length: -1\r\n", "Content-Length: 99999999999999999999\r\n", "Content-Length: 5\r\nContent-Length: 6\r\n",
      "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip, chunked\r\n", "Content-Encoding: gzip\r\n",
      "Content-Encoding: br\r\n", "Authorization: Bearer \r\n", "Authorization: Basic Zm9vOmJhcg==\r\n",
      "Expect: 100-continue\r\n", "Connection: close\r\n", "Range: bytes=5-1,0-\r\n", "Host:\r\n", " folded\r\n",
      "X-Long: "};
  Mutator m(seed);
  for (int i = 0; i < iterations; ++i) {
    std::string msg = messages[m.Below(messages.size())];
    if (m.Chance(40)) {
      std::string h = kHeaders[m.Below(sizeof(kHeaders) / sizeof(kHeaders[0]))];
      if (h == "X-Long: ") h += std::string(1 + m.Below(3) * 40000, 'x') + "\r\n";
      msg.insert(msg.find("\r\n") + 2, h);
    }
    if (m.Chance(70)) msg = m.Mutate(std::move(msg));
    INFO("seed " << seed << " iteration " << i << ": " << msg.substr(0, 300));
    const int status = SendRaw(server.port(), msg, std::chrono::milliseconds(3000));
    CHECK(status < 500);
    if (i % 50 == 49 || i + 1 == iterations) {
      REQUIRE(server.running());
      CHECK(SendRaw(server.port(), messages[3], std::chrono::milliseconds(5000)) == 200);
    }
  }
  // Still a working sync server.
  sync::CpprestTransport transport(server.base_url());
  TestDevice d(server.dir() + "/after.db", "agent-1", "team-1");
  auto synced = d.Sync(transport, token);
  INFO(synced.status().ToString());
  REQUIRE(synced.ok());
}
