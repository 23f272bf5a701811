// The admin API (/v1/admin/*) over the network, on every server backend: only admins,
// reassignment moves a customer whole, devices are listed, revoked, restored and made to
// re-sync, and tokens are revoked.
#include <catch2/catch.hpp>

#include "fieldbook/core/env.h"
#include "fieldbook/core/json.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/protocol.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

struct AdminClient {
  AdminClient(const ServerProcess& server, std::string token) : transport(server.base_url()), token(std::move(token)) {}

  sync::HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "") {
    sync::HttpRequest r;
    r.method = method;
    r.path = path;
    r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
    r.body = body;
    auto reply = transport.Send(r);
    INFO(method << " " << path << ": " << reply.status().ToString());
    REQUIRE(reply.ok());
    return *reply;
  }

  sync::CpprestTransport transport;
  std::string token;
};

std::string ErrorCodeOf(const std::string& body) {
  auto e = sync::DecodeError(body);
  return e ? e->code : "<not an error body: " + body.substr(0, 200) + ">";
}

std::string SiteOf(TestDevice& d) {
  auto state = sync::LoadSyncState(*d.store);
  REQUIRE(state.ok());
  return state->site;
}

}  // namespace

TEST_CASE("the admin API needs an admin token", "[server][admin]") {
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  for (auto role : {server::Role::kAgent, server::Role::kLead}) {
    AdminClient client(server, server.Token("agent-1", "team-1", role));
    auto r = client.Call("GET", "/v1/admin/devices");
    CHECK(r.status == 403);
    CHECK(ErrorCodeOf(r.body) == "forbidden");
  }
  AdminClient nobody(server, "not-a-token");
  CHECK(nobody.Call("POST", "/v1/admin/reassign", "{}").status == 401);
  AdminClient admin(server, server.Token("boss", "", server::Role::kAdmin));
  auto unknown = admin.Call("POST", "/v1/admin/devices/no-such-site/revoke");
  CHECK(unknown.status == 404);
  CHECK(ErrorCodeOf(unknown.body) == "not_found");
  auto missing = admin.Call("POST", "/v1/admin/tokens/revoke", "{}");
  CHECK(missing.status == 400);
  auto bad_json = admin.Call("POST", "/v1/admin/reassign", "{not json");
  CHECK(bad_json.status == 400);
  CHECK(ErrorCodeOf(bad_json.body) == "malformed_request");
}

TEST_CASE("admin: devices are listed with their last sync; revoked devices and tokens are refused",
          "[server][admin]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-2", "team-1");
  const std::string token_a = server.Token("agent-1", "team-1");
  const std::string token_b = server.Token("agent-2", "team-1");
  const int64_t before = SystemEnv().NowMs();
  REQUIRE(a.Sync(transport, token_a).ok());
  REQUIRE(b.Sync(transport, token_b).ok());

  AdminClient admin(server, server.Token("boss", "", server::Role::kAdmin));
  auto listed = admin.Call("GET", "/v1/admin/devices");
  REQUIRE(listed.status == 200);
  auto doc = ParseJson(listed.body, "devices");
  REQUIRE(doc.ok());
  const auto& devices = (*doc)["devices"];
  REQUIRE(devices.IsArray());
  REQUIRE(devices.Size() == 2);
  CHECK(std::string(devices[0]["agent"].GetString()) == "agent-1");
  CHECK(std::string(devices[0]["site"].GetString()) == SiteOf(a));
  CHECK(std::string(devices[1]["agent"].GetString()) == "agent-2");
  CHECK(devices[1]["last_sync_ms"].GetInt64() >= before);
  CHECK_FALSE(devices[0]["revoked"].GetBool());

  // A revoked device is refused, whatever token it shows; restored, it syncs again and
  // what it wrote meanwhile goes out.
  REQUIRE(admin.Call("POST", "/v1/admin/devices/" + SiteOf(a) + "/revoke").status == 200);
  REQUIRE(a.archive->Add("customers", R"({"name":"离线客户"})").ok());
  auto refused = a.Sync(transport, server.Token("agent-1", "team-1"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kRevoked);
  CHECK(b.Sync(transport, token_b).ok());
  REQUIRE(admin.Call("POST", "/v1/admin/devices/" + SiteOf(a) + "/restore").status == 200);
  auto restored = a.Sync(transport, token_a);
  INFO(restored.status().ToString());
  REQUIRE(restored.ok());
  CHECK(restored->pushed == 1);

  // A revoked token is refused; another token of the same agent is not.
  server::TokenClaims claims;
  claims.tenant = "t1";
  claims.agent = "agent-2";
  claims.team = "team-1";
  claims.issued_at_ms = SystemEnv().NowMs();
  claims.expires_at_ms = claims.issued_at_ms + 3600 * 1000;
  claims.id = "token-to-revoke";
  const std::string doomed = server::SignToken(claims, server.secret());
  REQUIRE(b.Sync(transport, doomed).ok());
  REQUIRE(admin.Call("POST", "/v1/admin/tokens/revoke", R"({"token_id":"token-to-revoke"})").status == 200);
  auto gone = b.Sync(transport, doomed);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().code() == ErrorCode::kRevoked);
  CHECK(b.Sync(transport, token_b).ok());
}

TEST_CASE("admin: reassigning a customer moves it whole; a forced re-sync loses nothing", "[server][admin]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-2", "team-1");
  const std::string token_a = server.Token("agent-1", "team-1");
  const std::string token_b = server.Token("agent-2", "team-1");
  auto id = a.archive->Add("customers", R"({"name":"李四","phones":["13700137000"]})");
  REQUIRE(id.ok());
  REQUIRE(a.archive->Add("visits", R"({"customer_id":")" + *id + R"(","channel":"phone","purpose":"service","visited_at":1767225600000,"outcome":"回访"})").ok());
  REQUIRE(a.Sync(transport, token_a).ok());
  REQUIRE(b.Sync(transport, token_b).ok());
  CHECK(b.Export().find("李四") == std::string::npos);

  AdminClient admin(server, server.Token("boss", "", server::Role::kAdmin));
  auto moved = admin.Call("POST", "/v1/admin/reassign", R"({"id":")" + *id + R"(","owner":"agent-2","team":"team-1"})");
  INFO(moved.body);
  REQUIRE(moved.status == 200);
  auto got = b.Sync(transport, token_b);
  REQUIRE(got.ok());
  CHECK(got->pulled >= 2);  // the customer and its visit
  CHECK(b.Export().find("李四") != std::string::npos);
  CHECK(b.Export().find("回访") != std::string::npos);
  auto evicted = a.Sync(transport, token_a);
  REQUIRE(evicted.ok());
  CHECK(evicted->evicted == 1);
  CHECK(a.Export().find("李四") == std::string::npos);
  auto missing = admin.Call("POST", "/v1/admin/reassign", R"({"id":"no-such-customer","owner":"agent-2"})");
  CHECK(missing.status == 404);
  auto no_owner = admin.Call("POST", "/v1/admin/reassign", R"({"id":")" + *id + R"("})");
  CHECK(no_owner.status == 400);
  CHECK(sync::DecodeError(no_owner.body)->code == "invalid_argument");

  // Forced re-sync: b pulls everything again, and what it wrote offline still goes out.
  REQUIRE(b.archive->Set("customers", *id, R"({"notes":"转给新代理人后补充"})").ok());
  REQUIRE(admin.Call("POST", "/v1/admin/devices/" + SiteOf(b) + "/resync").status == 200);
  auto listed = admin.Call("GET", "/v1/admin/devices");
  CHECK(listed.body.find("\"resync_requested\":true") != std::string::npos);
  auto again = b.Sync(transport, token_b);
  INFO(again.status().ToString());
  REQUIRE(again.ok());
  CHECK(again->pushed == 1);
  CHECK(again->pulled >= 1);
  REQUIRE(a.Sync(transport, token_a).ok());
  TestDevice fresh(dir.File("c.db"), "agent-2", "team-1");
  REQUIRE(fresh.Sync(transport, token_b).ok());
  CHECK(fresh.Export() == b.Export());
  CHECK(b.Export().find("转给新代理人后补充") != std::string::npos);
}
