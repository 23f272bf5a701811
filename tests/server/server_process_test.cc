// fieldbook-server as a separate process, reached through the real network: the
// cpprest transport the CLI uses, and raw sockets for what a client library would not
// send.
#include <signal.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "fieldbook/core/json.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/protocol.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;
using namespace std::chrono_literals;

namespace {

sync::HttpRequest Get(const std::string& path) {
  sync::HttpRequest r;
  r.method = "GET";
  r.path = path;
  return r;
}

sync::HttpRequest PostSync(const std::string& body, const std::string& token,
                           std::vector<std::pair<std::string, std::string>> extra = {}) {
  sync::HttpRequest r;
  r.path = "/v1/sync";
  r.headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = body;
  return r;
}

std::string EmptySyncBody(const std::string& site = "site-test-1") {
  sync::SyncRequest q;
  q.site = site;
  return sync::EncodeRequest(q);
}

std::string ErrorCodeOf(const std::string& body) {
  auto e = sync::DecodeError(body);
  return e ? e->code : "<not an error body: " + body.substr(0, 200) + ">";
}

int64_t InFlight(sync::Transport& transport) {
  auto metrics = transport.Send(Get("/metrics"));
  if (!metrics.ok()) return -1;
  const std::string key = "\nfieldbook_requests_in_flight ";
  const size_t at = metrics->body.find(key);
  return at == std::string::npos ? -1 : std::stoll(metrics->body.substr(at + key.size()));
}

// Waits until `n` requests are inside Api::Handle (the /metrics probe is not counted).
bool WaitInFlight(sync::Transport& transport, int64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (InFlight(transport) >= n) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

TEST_CASE("health, readiness and metrics answer over the network", "[server]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());

  auto health = transport.Send(Get("/healthz"));
  INFO(health.status().ToString());
  REQUIRE(health.ok());
  CHECK(health->status == 200);
  CHECK(health->body == R"({"status":"ok"})");
  auto ready = transport.Send(Get("/readyz"));
  REQUIRE(ready.ok());
  CHECK(ready->status == 200);
  CHECK(ready->body == R"({"status":"ready"})");
  auto metrics = transport.Send(Get("/metrics"));
  REQUIRE(metrics.ok());
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find("fieldbook_http_requests_total{route=\"/healthz\",status=\"200\"} 1") != std::string::npos);
  auto missing = transport.Send(Get("/nowhere"));
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  CHECK(ErrorCodeOf(missing->body) == "not_found");
}

TEST_CASE("sync without a valid token is refused with 401 and a JSON error", "[server][auth]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string body = EmptySyncBody();

  auto expect = [&](const std::string& token, const std::string& code) {
    auto r = transport.Send(PostSync(body, token));
    INFO("token: " << token.substr(0, 40) << " status: " << r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->status == 401);
    CHECK(ErrorCodeOf(r->body) == code);
  };
  expect("", "unauthorized");
  expect("not-a-token", "unauthorized");
  std::string tampered = server.Token("agent-1", "team-1");
  // Change one character of the signed payload: the signature no longer matches.
  tampered[6] = tampered[6] == 'A' ? 'B' : 'A';
  expect(tampered, "unauthorized");
  server::TokenClaims claims;
  claims.tenant = "t1";
  claims.agent = "agent-1";
  claims.expires_at_ms = SystemEnv().NowMs() + 3600 * 1000;
  claims.id = "foreign";
  expect(server::SignToken(claims, "another-secret-0123456789"), "unauthorized");
  expect(server.Token("agent-1", "team-1", server::Role::kAgent, "t1", -60 * 1000), "token_expired");

  // The same through a raw socket: a JSON body, and the connection stays usable.
  RawHttpConnection raw(server.port());
  REQUIRE(raw.connected());
  REQUIRE(raw.Send(HttpRequestText("POST", "/v1/sync", body, {{"Authorization", "Basic dXNlcjpwdw=="}})));
  auto r = raw.Read();
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->headers["content-type"] == "application/json");
  CHECK(ErrorCodeOf(r->body) == "unauthorized");
  REQUIRE(raw.Send(HttpRequestText("GET", "/healthz")));
  auto again = raw.Read();
  REQUIRE(again);
  CHECK(again->status == 200);

  auto ok = transport.Send(PostSync(body, server.Token("agent-1", "team-1")));
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
}

TEST_CASE("malformed sync bodies are a 400 malformed_request", "[server]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");
  for (const std::string& body : {std::string("{\"protocol\":1,"), std::string("[1,2]"), std::string("not json"),
                                 std::string("\xff\xfe{}")}) {
    auto r = transport.Send(PostSync(body, token));
    INFO(body);
    REQUIRE(r.ok());
    CHECK(r->status == 400);
    CHECK(ErrorCodeOf(r->body) == "malformed_request");
  }
  // Not even HTTP: answered with a JSON 400, then the connection is closed.
  RawHttpConnection raw(server.port());
  REQUIRE(raw.Send("HELLO\r\n\r\n"));
  auto r = raw.Read();
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(ErrorCodeOf(r->body) == "malformed_request");
  CHECK(raw.WaitClosed(5s));
  auto health = transport.Send(Get("/healthz"));
  REQUIRE(health.ok());
  CHECK(health->status == 200);
}

TEST_CASE("bodies over --max-body-bytes are refused with 413, not a dropped connection", "[server]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions::WithArgs({"--max-body-bytes", "4096"}));
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");

  SECTION("just over the limit") {
    auto r = transport.Send(PostSync(std::string(5000, ' ') + EmptySyncBody(), token));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->status == 413);
    CHECK(ErrorCodeOf(r->body) == "payload_too_large");
  }
  SECTION("far over the limit: refused before the body is read") {
    auto r = transport.Send(PostSync(std::string(4 << 20, 'x'), token));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->status == 413);
    CHECK(ErrorCodeOf(r->body) == "payload_too_large");
  }
  SECTION("a small gzip body that inflates past the limit") {
    auto r = transport.Send(PostSync(sync::Gzip(std::string(1 << 20, ' ')), token, {{"Content-Encoding", "gzip"}}));
    REQUIRE(r.ok());
    CHECK(r->status == 413);
    CHECK(ErrorCodeOf(r->body) == "payload_too_large");
  }
  SECTION("a declared length over the limit is answered at once") {
    RawHttpConnection raw(server.port());
    REQUIRE(raw.Send("POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"));
    auto r = raw.Read(5s);
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->headers["connection"] == "close");
    CHECK(ErrorCodeOf(r->body) == "payload_too_large");
  }
  SECTION("a client that asks first (Expect: 100-continue) is told before sending") {
    RawHttpConnection raw(server.port());
    REQUIRE(raw.Send("POST /v1/sync HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9000000\r\n\r\n"));
    auto r = raw.Read(5s);
    REQUIRE(r);
    CHECK(r->status == 413);
  }
  auto health = transport.Send(Get("/healthz"));
  REQUIRE(health.ok());
  CHECK(health->status == 200);
}

TEST_CASE("gzip request bodies are accepted and large replies come back raw and compressed", "[server]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");

  // A device pushes enough customers that the pull reply is worth compressing.
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  for (int i = 0; i < 40; ++i) {
    REQUIRE(a.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"(","phones":["13800138000"]})").ok());
  }
  auto pushed = a.Sync(transport, token);
  INFO(pushed.status().ToString());
  REQUIRE(pushed.ok());
  CHECK(pushed->pushed == 40);

  auto r = transport.Send(PostSync(sync::Gzip(EmptySyncBody("site-other")), token,
                                   {{"Content-Encoding", "gzip"}, {"Accept-Encoding", "gzip"}}));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  // The transport hands over the bytes as sent: still gzip.
  REQUIRE(sync::LooksGzipped(r->body));
  auto json = sync::Gunzip(r->body, 64 << 20);
  REQUIRE(json.ok());
  auto response = sync::DecodeResponse(*json);
  REQUIRE(response.ok());
  CHECK(response->rows.size() >= 40);
}

TEST_CASE("two devices converge through the real server", "[server][sync]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");

  auto id = a.archive->Add("customers", R"({"name":"张三","phones":["13800138000"],"notes":"喜欢钓鱼"})");
  REQUIRE(id.ok());
  auto first = a.Sync(transport, token);
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK(first->pushed == 1);
  REQUIRE(b.Sync(transport, token).ok());

  REQUIRE(a.archive->Set("customers", *id, R"({"phones":["13900139000"],"value_tier":"high"})").ok());
  REQUIRE(b.archive->Set("customers", *id, R"({"value_tier":"potential","notes":"喜欢钓鱼和茶"})").ok());
  REQUIRE(a.Sync(transport, token).ok());
  auto rb = b.Sync(transport, token);
  INFO(rb.status().ToString());
  REQUIRE(rb.ok());
  CHECK(rb->conflicts == 1);
  REQUIRE(a.Sync(transport, token).ok());
  CHECK(a.Export() == b.Export());
  CHECK(a.Export().find("13900139000") != std::string::npos);
  CHECK(a.Export().find("喜欢钓鱼和茶") != std::string::npos);
}

TEST_CASE("an unreachable server fails the sync with kUnreachable and loses nothing", "[server][sync]") {
  const std::string backend = GENERATE(from_range(ServerBackends()));
  CAPTURE(backend);
  TempDir dir;
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  REQUIRE(a.archive->Add("customers", R"({"name":"王五","phones":["13800138000"]})").ok());
  auto before = sync::PendingRowCount(*a.store);
  REQUIRE(before.ok());
  REQUIRE(*before > 0);

  const int port = UnusedPort();
  REQUIRE(port > 0);
  sync::CpprestTransport closed("http://127.0.0.1:" + std::to_string(port));
  auto failed = a.Sync(closed, "any-token");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == ErrorCode::kUnreachable);
  auto after = sync::PendingRowCount(*a.store);
  REQUIRE(after.ok());
  CHECK(*after == *before);

  // The same changes go out once a server is there.
  ServerProcess server(OptionsFor(backend));
  INFO(server.error());
  REQUIRE(server.ok());
  sync::CpprestTransport transport(server.base_url());
  auto synced = a.Sync(transport, server.Token("agent-1", "team-1"));
  INFO(synced.status().ToString());
  REQUIRE(synced.ok());
  CHECK(synced->pushed == *before);
  auto none = sync::PendingRowCount(*a.store);
  REQUIRE(none.ok());
  CHECK(*none == 0);
}

TEST_CASE("keep-alive connections carry several requests", "[server]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  RawHttpConnection raw(server.port());
  REQUIRE(raw.connected());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(raw.Send(HttpRequestText("GET", "/healthz")));
    auto r = raw.Read();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->headers.count("connection") == 0);
  }
  // Two requests in one write (pipelined) are both answered, in order.
  REQUIRE(raw.Send(HttpRequestText("GET", "/healthz") + HttpRequestText("GET", "/nowhere")));
  auto first = raw.Read();
  auto second = raw.Read();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 200);
  CHECK(second->status == 404);
  REQUIRE(raw.Send(HttpRequestText("GET", "/healthz", "", {{"Connection", "close"}})));
  auto last = raw.Read();
  REQUIRE(last);
  CHECK(last->status == 200);
  CHECK(raw.WaitClosed(5s));
}

TEST_CASE("a request blocked on the database does not hold up other connections", "[server]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions::WithArgs({"--threads", "2"}));
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  REQUIRE(a.archive->Add("customers", R"({"name":"赵六"})").ok());
  REQUIRE(a.Sync(transport, token).ok());  // creates the server's tables and pool
  REQUIRE(a.archive->Add("customers", R"({"name":"钱七"})").ok());

  // Declared before the lock so that, should a check below fail, the lock is released
  // before the future waits for the blocked sync.
  sync::CpprestTransport blocked_transport(server.base_url());
  std::future<Result<sync::SyncReport>> blocked;
  auto lock = std::make_unique<DatabaseWriteLock>(backend, backend == "postgres" ? server.postgres() : server.db_file());
  blocked = std::async(std::launch::async, [&] { return a.Sync(blocked_transport, token); });
  REQUIRE(WaitInFlight(transport, 1));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto health = transport.Send(Get("/healthz"));
    REQUIRE(health.ok());
    CHECK(health->status == 200);
  }
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(blocked.wait_for(0s) == std::future_status::timeout);
  lock->Release();
  auto done = blocked.get();
  INFO(done.status().ToString());
  REQUIRE(done.ok());
  CHECK(done->pushed == 1);
}

TEST_CASE("SIGTERM while idle stops the server with exit code 0", "[server][shutdown]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  // An idle keep-alive connection must not keep the server up.
  RawHttpConnection idle(server.port());
  REQUIRE(idle.Send(HttpRequestText("GET", "/healthz")));
  REQUIRE(idle.Read());
  const auto start = std::chrono::steady_clock::now();
  server.Signal(SIGTERM);
  auto code = server.WaitExit(15s);
  REQUIRE(code);
  INFO("server log: " << server.Log());
  CHECK(*code == 0);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(idle.WaitClosed(1s));
  CHECK(server.Log().find("\"event\":\"stopped\"") != std::string::npos);

  sync::CpprestTransport transport(server.base_url());
  auto r = transport.Send(Get("/healthz"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kUnreachable);
}

TEST_CASE("SIGTERM lets a sync in flight finish and answer before the server exits", "[server][shutdown]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");
  REQUIRE(transport.Send(PostSync(EmptySyncBody(), token)).ok());  // creates the server's tables

  auto lock = std::make_unique<DatabaseWriteLock>(backend, backend == "postgres" ? server.postgres() : server.db_file());
  RawHttpConnection raw(server.port());
  REQUIRE(raw.Send(HttpRequestText("POST", "/v1/sync", EmptySyncBody("site-in-flight"),
                                   {{"Authorization", "Bearer " + token}})));
  REQUIRE(WaitInFlight(transport, 1));
  server.Signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  CHECK(server.running());
  lock->Release();
  auto r = raw.Read(10s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->headers["connection"] == "close");
  auto code = server.WaitExit(15s);
  REQUIRE(code);
  CHECK(*code == 0);
}
