// Several fieldbook-server instances on one PostgreSQL database: devices syncing through
// different instances converge, batch ids are idempotent across instances, and instances
// starting at once migrate the schema once.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <future>

#include <sqlite3.h>

#include "fieldbook/core/env.h"
#include "fieldbook/server/pg_backend.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/protocol.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

// Two servers on one fresh PostgreSQL database, sharing the token secret.
struct TwoInstances {
  TwoInstances() {
    const ServerProcessOptions base = OptionsFor("postgres");
    // Started at once: both run the migration, which must happen exactly once.
    auto start = [&] { return std::make_unique<ServerProcess>(base); };
    auto a = std::async(std::launch::async, start);
    auto b = std::async(std::launch::async, start);
    first = a.get();
    second = b.get();
  }
  std::unique_ptr<ServerProcess> first;
  std::unique_ptr<ServerProcess> second;
};

sync::HttpRequest PostSync(const std::string& body, const std::string& token) {
  sync::HttpRequest r;
  r.path = "/v1/sync";
  r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
  r.body = body;
  return r;
}

}  // namespace

TEST_CASE("two instances on one PostgreSQL database serve the same devices and converge", "[server][postgres]") {
  if (!server::PostgresBackendBuilt()) return;
  TwoInstances servers;
  INFO(servers.first->error() << servers.second->error());
  REQUIRE(servers.first->ok());
  REQUIRE(servers.second->ok());
  TempDir dir;
  sync::CpprestTransport via_first(servers.first->base_url());
  sync::CpprestTransport via_second(servers.second->base_url());
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token_a = servers.first->Token("agent-1", "team-1");
  const std::string token_b = servers.second->Token("agent-1", "team-1");

  auto id = a.archive->Add("customers", R"({"name":"张三","phones":["13800138000"],"notes":"喜欢钓鱼"})");
  REQUIRE(id.ok());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(b.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"("})").ok());
  }
  REQUIRE(a.Sync(via_first, token_a).ok());
  auto pulled = b.Sync(via_second, token_b);
  INFO(pulled.status().ToString());
  REQUIRE(pulled.ok());
  CHECK(pulled->pushed == 5);

  // Concurrent edits of the same customer through different instances.
  REQUIRE(a.archive->Set("customers", *id, R"({"phones":["13900139000"],"value_tier":"high"})").ok());
  REQUIRE(b.archive->Set("customers", *id, R"({"value_tier":"potential","notes":"喜欢钓鱼和茶"})").ok());
  REQUIRE(a.Sync(via_first, token_a).ok());
  auto merged = b.Sync(via_second, token_b);
  REQUIRE(merged.ok());
  CHECK(merged->conflicts == 1);
  REQUIRE(a.Sync(via_first, token_a).ok());
  // Swapping instances changes nothing: they share the database and its epoch.
  auto swapped_a = a.Sync(via_second, token_a);
  auto swapped_b = b.Sync(via_first, token_b);
  REQUIRE(swapped_a.ok());
  REQUIRE(swapped_b.ok());
  CHECK(swapped_a->pulled == 0);
  CHECK(a.Export() == b.Export());
  CHECK(a.Export().find("13900139000") != std::string::npos);
  CHECK(a.Export().find("喜欢钓鱼和茶") != std::string::npos);
}

TEST_CASE("a batch retried through the other instance is not applied twice", "[server][postgres]") {
  if (!server::PostgresBackendBuilt()) return;
  TwoInstances servers;
  INFO(servers.first->error() << servers.second->error());
  REQUIRE(servers.first->ok());
  REQUIRE(servers.second->ok());
  sync::CpprestTransport via_first(servers.first->base_url());
  sync::CpprestTransport via_second(servers.second->base_url());
  const std::string token = servers.first->Token("agent-1", "team-1");

  sync::SyncRequest push;
  push.site = "site-retry";
  push.batch_id = "batch-0001";
  const sync::Hlc hlc = sync::MakeHlc(SystemEnv().NowMs());
  for (int i = 0; i < 3; ++i) {
    sync::PushChange c;
    c.table = "customers";
    c.id = "0190a000-0000-7000-8000-00000000000" + std::to_string(i);
    c.op = sync::PushChange::Op::kCreate;
    c.hlc = hlc;
    for (const auto& [col, value] : {std::pair<std::string, std::string>{"kind", "person"},
                                     {"name", "客户" + std::to_string(i)},
                                     {"owner_agent", "agent-1"},
                                     {"team", "team-1"}}) {
      c.cells.push_back(sync::PushCell{col, Value{value}, hlc, 0, std::nullopt});
    }
    push.changes.push_back(std::move(c));
  }
  const std::string body = sync::EncodeRequest(push);

  auto first = via_first.Send(PostSync(body, token));
  REQUIRE(first.ok());
  INFO(first->body);
  REQUIRE(first->status == 200);
  auto once = sync::DecodeResponse(first->body);
  REQUIRE(once.ok());
  CHECK(once->applied == 3);
  CHECK(once->acked_batch == "batch-0001");

  // The response was lost; the device retries through the other instance.
  auto retried = via_second.Send(PostSync(body, token));
  REQUIRE(retried.ok());
  REQUIRE(retried->status == 200);
  auto twice = sync::DecodeResponse(retried->body);
  REQUIRE(twice.ok());
  CHECK(twice->acked_batch == "batch-0001");
  CHECK(twice->applied == 3);
  // Nothing was written again: no new seq was allocated.
  CHECK(twice->cursor == once->cursor);

  // An admin device sees each customer once.
  sync::SyncRequest pull;
  pull.site = "site-admin";
  auto all = via_second.Send(PostSync(sync::EncodeRequest(pull), servers.second->Token("boss", "", server::Role::kAdmin)));
  REQUIRE(all.ok());
  auto rows = sync::DecodeResponse(all->body);
  REQUIRE(rows.ok());
  CHECK(rows->rows.size() == 3);
}

TEST_CASE("a server refuses a PostgreSQL database migrated by a newer version", "[server][postgres]") {
  if (!server::PostgresBackendBuilt()) return;
  const ServerProcessOptions options = OptionsFor("postgres");
  {
    ServerProcess first(options);
    REQUIRE(first.ok());
  }
  REQUIRE(PostgresCluster::Exec(options.postgres, "UPDATE srv_schema SET version = version + 1").ok());
  ServerProcess refused(options);
  CHECK_FALSE(refused.ok());
  CHECK(refused.error().find("newer than this server") != std::string::npos);
}

TEST_CASE("PostgreSQL pages stop at the byte budget too; a row larger than it still comes", "[server][postgres]") {
  if (!server::PostgresBackendBuilt()) return;
  auto cluster = PostgresCluster::Shared();
  INFO(cluster.status().ToString());
  REQUIRE(cluster.ok());
  auto database = (*cluster)->CreateDatabase();
  INFO(database.status().ToString());
  REQUIRE(database.ok());
  auto backend = server::OpenPostgresBackend(*database);
  INFO(backend.status().ToString());
  REQUIRE(backend.ok());
  TempDir dir;
  TestServer server(std::move(backend).value());
  CheckPageByteBudget(server, dir);
}

namespace {

// Moves of two roots, interleaved, then read back one root at a time.
void CheckMovesOfOneRoot(server::ServerBackend& backend) {
  auto opened = backend.OpenSession();
  REQUIRE(opened.ok());
  server::ServerSession& s = **opened;
  REQUIRE(s.BeginWrite("t1").ok());
  for (int i = 1; i <= 6; ++i) {
    const server::ScopeChange move{i, i % 2 == 1 ? "root-a" : "root-b", {"agent-" + std::to_string(i), "team-1"},
                                   {"agent-" + std::to_string(i + 1), "team-1"}};
    REQUIRE(s.LogScopeChange("t1", move).ok());
  }
  REQUIRE(s.Commit().ok());
  REQUIRE(s.BeginWrite("t2").ok());
  REQUIRE(s.LogScopeChange("t2", {7, "root-a", {"agent-9", "team-2"}, {"agent-8", "team-2"}}).ok());
  REQUIRE(s.Commit().ok());
  auto a = s.ScopeChangesOf("t1", "root-a");
  INFO(a.status().ToString());
  REQUIRE(a.ok());
  REQUIRE(a->size() == 3);
  CHECK((*a)[0].seq == 1);
  CHECK((*a)[1].seq == 3);
  CHECK((*a)[1].before.owner == "agent-3");
  CHECK((*a)[1].after.owner == "agent-4");
  CHECK((*a)[2].seq == 5);
  auto b = s.ScopeChangesOf("t1", "root-b");
  REQUIRE(b.ok());
  CHECK(b->size() == 3);
  auto other = s.ScopeChangesOf("t2", "root-a");
  REQUIRE(other.ok());
  REQUIRE(other->size() == 1);
  CHECK(other->front().before.owner == "agent-9");
  auto none = s.ScopeChangesOf("t1", "root-c");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

}  // namespace

TEST_CASE("one root's moves are read by root, on SQLite and PostgreSQL", "[server][reassign]") {
  SECTION("SQLite") {
    TempDir dir;
    auto backend = server::OpenSqliteBackend(dir.File("server.db"));
    REQUIRE(backend.ok());
    CheckMovesOfOneRoot(**backend);
  }
  SECTION("PostgreSQL") {
    if (!server::PostgresBackendBuilt()) return;
    auto cluster = PostgresCluster::Shared();
    INFO(cluster.status().ToString());
    REQUIRE(cluster.ok());
    auto database = (*cluster)->CreateDatabase();
    REQUIRE(database.ok());
    auto backend = server::OpenPostgresBackend(*database);
    INFO(backend.status().ToString());
    REQUIRE(backend.ok());
    CheckMovesOfOneRoot(**backend);
  }
}

TEST_CASE("a SQLite server store from before the move index gets it when opened", "[server][reassign]") {
  TempDir dir;
  const std::string path = dir.File("server.db");
  {
    auto backend = server::OpenSqliteBackend(path);
    REQUIRE(backend.ok());
  }
  // The file as SQLite sees it, beside the backend.
  auto sql = [&](const char* text) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    int64_t count = -1;
    char* error = nullptr;
    const int rc = sqlite3_exec(
        db, text,
        [](void* out, int, char** values, char**) {
          *static_cast<int64_t*>(out) = values[0] ? std::atoll(values[0]) : 0;
          return 0;
        },
        &count, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
    return count;
  };
  auto index_count = [&] { return sql("SELECT count(*) FROM sqlite_master WHERE name = 'srv_scope_log_root'"); };
  REQUIRE(index_count() == 1);
  // As the previous version left it.
  sql("DROP INDEX srv_scope_log_root; UPDATE fb_schema SET version = 2 WHERE component = 'server'");
  REQUIRE(index_count() == 0);
  auto backend = server::OpenSqliteBackend(path);
  INFO(backend.status().ToString());
  REQUIRE(backend.ok());
  CheckMovesOfOneRoot(**backend);
  backend->reset();
  CHECK(index_count() == 1);
}
