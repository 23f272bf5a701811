#include "sync/harness.h"

#include <catch2/catch.hpp>

#include <cctype>

#include "fieldbook/core/archive_schema.h"
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

TestServer::TestServer(const std::string& path, Env* e, bool durable) : env(e ? e : &SystemEnv()) {
  auto b = server::OpenSqliteBackend(path, durable ? "FULL" : "OFF");
  REQUIRE(b.ok());
  backend = std::move(b).value();
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
  sync::SyncClient client(*store, transport);
  sync::SyncOptions options;
  options.token = token;
  if (page_limit > 0) options.page_limit = page_limit;
  if (push_limit > 0) options.push_limit = push_limit;
  return client.Sync(options);
}

std::string TestDevice::Export() {
  auto json = ExportJson(*store, sync::SyncedTables(*store));
  REQUIRE(json.ok());
  return *json;
}

}  // namespace fieldbook::testing
