// HttpServer in process, with timeouts short enough to test: read timeouts, draining on
// Stop() and the access log.
#include "fieldbook/server/http_server.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <thread>

#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  explicit Fixture(server::HttpServerConfig config = {}) : api(dir.File("server.db")) {
    config.token_secret = api.secret;
    config.access_log = [this](const server::AccessLogEntry& e) {
      std::lock_guard<std::mutex> lock(mu);
      log.push_back(e);
    };
    auto started = server::HttpServer::Start(*api.api, std::move(config));
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    http = std::move(started).value();
  }
  std::vector<server::AccessLogEntry> Log() {
    std::lock_guard<std::mutex> lock(mu);
    return log;
  }

  TempDir dir;
  TestServer api;
  std::unique_ptr<server::HttpServer> http;
  std::mutex mu;
  std::vector<server::AccessLogEntry> log;
};

server::HttpServerConfig Timeouts(std::chrono::milliseconds read, std::chrono::milliseconds drain) {
  server::HttpServerConfig c;
  c.threads = 2;
  c.read_timeout = read;
  c.drain_timeout = drain;
  return c;
}

}  // namespace

TEST_CASE("idle and silent connections are closed after the read timeout", "[server][http]") {
  Fixture f(Timeouts(300ms, 5s));
  CHECK(f.http->port() != 0);
  RawHttpConnection silent(f.http->port());
  REQUIRE(silent.connected());
  const auto start = std::chrono::steady_clock::now();
  CHECK(silent.WaitClosed(5s));
  CHECK(std::chrono::steady_clock::now() - start >= 250ms);

  RawHttpConnection idle(f.http->port());
  REQUIRE(idle.Send(HttpRequestText("GET", "/healthz")));
  auto r = idle.Read();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(idle.WaitClosed(5s));
}

TEST_CASE("a body that keeps arriving is not cut off by the read timeout", "[server][http]") {
  Fixture f(Timeouts(400ms, 5s));
  RawHttpConnection slow(f.http->port());
  const std::string body(600, ' ');
  REQUIRE(slow.Send("POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n"));
  // Six pieces 150 ms apart: 900 ms in all, never 400 ms of silence.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(150ms);
    REQUIRE(slow.Send(body.substr(static_cast<size_t>(i) * 100, 100)));
  }
  auto r = slow.Read(5s);
  REQUIRE(r);
  CHECK(r->status == 401);  // read whole and answered (it carries no token)
}

TEST_CASE("Stop closes idle connections at once and waits a bounded time for stuck ones", "[server][http]") {
  SECTION("idle keep-alive connections do not delay the stop") {
    Fixture f(Timeouts(30s, 10s));
    RawHttpConnection idle(f.http->port());
    REQUIRE(idle.Send(HttpRequestText("GET", "/healthz")));
    REQUIRE(idle.Read());
    const auto start = std::chrono::steady_clock::now();
    f.http->Stop();
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(idle.WaitClosed(1s));
    RawHttpConnection after(f.http->port());
    CHECK_FALSE(after.connected());
  }
  SECTION("a half-sent request is waited for until drain_timeout, then dropped") {
    Fixture f(Timeouts(30s, 500ms));
    RawHttpConnection stuck(f.http->port());
    REQUIRE(stuck.Send("POST /v1/sync HTTP/1.1\r\nHost: x\r\n"));
    std::this_thread::sleep_for(100ms);
    const auto start = std::chrono::steady_clock::now();
    f.http->Stop();
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 400ms);
    CHECK(took < 5s);
  }
}

TEST_CASE("the access log names routes without ids and tenants only from valid tokens", "[server][http]") {
  Fixture f(Timeouts(5s, 5s));
  const std::string admin = f.api.Token("boss", "", server::Role::kAdmin, "tenant-a");
  RawHttpConnection c(f.http->port());
  REQUIRE(c.Send(HttpRequestText("POST", "/v1/admin/devices/site-123/revoke", "",
                                 {{"Authorization", "Bearer " + admin}})));
  auto r1 = c.Read();
  REQUIRE(r1);
  CHECK(r1->status == 404);  // no such device; the route is logged all the same
  REQUIRE(c.Send(HttpRequestText("GET", "/customers/13800138000")));
  auto r2 = c.Read();
  REQUIRE(r2);
  CHECK(r2->status == 404);
  REQUIRE(c.Send(HttpRequestText("POST", "/v1/sync", "{}", {{"Authorization", "Bearer fb1.x.y"}})));
  auto r3 = c.Read();
  REQUIRE(r3);
  CHECK(r3->status == 401);

  const auto log = f.Log();
  REQUIRE(log.size() == 3);
  CHECK(log[0].route == "/v1/admin/devices/:site/revoke");
  CHECK(log[0].tenant == "tenant-a");
  CHECK(log[0].method == "POST");
  CHECK(log[0].error_code == "not_found");
  CHECK(log[1].route == "other");
  CHECK(log[1].error_code == "not_found");
  CHECK(log[1].error_field.empty());
  CHECK(log[2].route == "/v1/sync");
  CHECK(log[2].tenant.empty());
  CHECK(log[2].error_code == "unauthorized");
  for (const auto& e : log) {
    const std::string json = server::AccessLogJson(e);
    CHECK(json.find("13800138000") == std::string::npos);
    CHECK(json.find("site-123") == std::string::npos);
  }
}

TEST_CASE("the server refuses to start on a bad address or TLS setup", "[server][http]") {
  TempDir dir;
  TestServer api(dir.File("server.db"));
  server::HttpServerConfig c;
  c.host = "no-such-host.invalid";
  CHECK_FALSE(server::HttpServer::Start(*api.api, c).ok());
  c.host = "127.0.0.1";
  c.tls_cert_file = dir.File("missing-cert.pem");
  CHECK_FALSE(server::HttpServer::Start(*api.api, c).ok());
  c.tls_key_file = dir.File("missing-key.pem");
  auto tls = server::HttpServer::Start(*api.api, c);
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.status().message().find("missing-cert.pem") != std::string::npos);
  CHECK(server::WireBodyLimit(1000) > 1000);
  CHECK(server::WireBodyLimit(SIZE_MAX - 1) == SIZE_MAX);
}
