#include "sync/harness.h"

#include <catch2/catch.hpp>

#include <cctype>

#include "fieldbook/core/archive_schema.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/erasure.h"

namespace fieldbook::testing {

Result<sync::HttpResponse> ApiTransport::Send(const sync::HttpRequest& request) {
  server::ApiRequest r;
  r.method = request.method;
  r.target = request.path;
  for (const auto& [k, v] : request.headers) {
    std::string key = k;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[key] = v;
  }
  r.body = request.body;
  server::ApiReply reply = api_.Handle(r);
  return sync::HttpResponse{reply.status, std::move(reply.body)};
}

namespace {

std::unique_ptr<server::ServerBackend> SqliteBackend(const std::string& path, bool durable) {
  auto b = server::OpenSqliteBackend(path, durable ? "FULL" : "OFF");
  REQUIRE(b.ok());
  return std::move(b).value();
}

}  // namespace

TestServer::TestServer(const std::string& path, Env* e, bool durable) : TestServer(SqliteBackend(path, durable), e) {}

TestServer::TestServer(std::unique_ptr<server::ServerBackend> b, Env* e)
    : env(e ? e : &SystemEnv()), backend(std::move(b)) {
  config.secret = secret;
  for (const auto& t : ArchiveRegistry().tables()) config.service.tables.push_back(&t);
  config.service.tables.push_back(&sync::ConflictsTable());
  config.service.tables.push_back(&sync::ErasuresTable());
  Restart();
}

void TestServer::Restart() {
  transport.reset();
  api = std::make_unique<server::Api>(*backend, *env, config);
  transport = std::make_unique<ApiTransport>(*api);
}

std::string TestServer::Token(const std::string& agent, const std::string& team, server::Role role,
                              const std::string& tenant, int64_t ttl_ms) {
  server::TokenClaims c;
  c.tenant = tenant;
  c.agent = agent;
  c.team = team;
  c.role = role;
  c.issued_at_ms = env->NowMs();
  c.expires_at_ms = env->NowMs() + ttl_ms;
  c.id = agent + "-" + std::to_string(env->Random64());
  return server::SignToken(c, secret);
}

TestDevice::TestDevice(const std::string& path, const std::string& agent, const std::string& team, Env* env,
                       bool durable) {
  StoreOptions options;
  options.env = env;
  options.synchronous = durable ? "NORMAL" : "OFF";
  auto s = Store::Open(path, options);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  store = std::move(s).value();
  Status attached = sync::AttachSync(*store);
  INFO(attached.ToString());
  REQUIRE(attached.ok());
  REQUIRE(Archive::Init(*store, agent, team).ok());
  archive = std::make_unique<Archive>(*store);
}

Result<sync::SyncReport> TestDevice::Sync(sync::Transport& transport, const std::string& token, int page_limit,
                                          int push_limit) {
  sync::SyncOptions options;
  options.token = token;
  if (page_limit > 0) options.page_limit = page_limit;
  if (push_limit > 0) options.push_limit = push_limit;
  return Sync(transport, options);
}

Result<sync::SyncReport> TestDevice::Sync(sync::Transport& transport, const sync::SyncOptions& options) {
  sync::SyncClient client(*store, transport);
  return client.Sync(options);
}

std::string TestDevice::Field(const std::string& customer_id, const char* field) {
  auto json = archive->Show("customers", customer_id);
  INFO(json.status().ToString());
  REQUIRE(json.ok());
  auto doc = ParseJson(*json, "show");
  REQUIRE(doc.ok());
  const auto& v = (*doc)[field];
  return v.IsString() ? v.GetString() : ToJson(v);
}

std::string TestDevice::Export() {
  auto json = ExportJson(*store, sync::SyncedTables(*store));
  REQUIRE(json.ok());
  return *json;
}

void CheckPageByteBudget(TestServer& server, TempDir& dir) {
  server.config.service.max_page_bytes = 3000;
  server.Restart();
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  const std::string note(1000, 'x');
  for (int i = 0; i < 9; ++i) {
    REQUIRE(a.archive->Add("customers", R"({"name":"长备注)" + std::to_string(i) + R"(","notes":")" + note + "\"}").ok());
  }
  auto big = a.archive->Add("customers", R"({"name":"很长","notes":")" + std::string(20000, 'y') + "\"}");
  REQUIRE(big.ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  auto report = b.Sync(*server.transport, token);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(report->pulled == 10);
  // About three rows of 1 KB per page, the 20 KB row alone: far more than the one page
  // the row count allows.
  CHECK(report->round_trips >= 4);
  auto notes = b.store->Prepare("SELECT length(notes) FROM customers WHERE id = ?1");
  REQUIRE(notes.ok());
  notes->Bind(1, *big);
  REQUIRE(*notes->Step());
  CHECK(notes->Int(0) == 20000);
  CHECK(a.Export() == b.Export());
}

}  // namespace fieldbook::testing
