// docs/operations.md's restore procedure: a backup taken while the server runs, later
// writes, the server restored to the backup and its epoch renewed. Devices pull again
// from the beginning, the device that wrote after the backup keeps its writes, and new
// writes flow between devices again. (What the restore lost is not pushed again by the
// devices: a device that had only pulled it goes back to the restored version. See
// docs/operations.md.)
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>

#include "fieldbook/sync/cpprest_transport.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

// SQLite's online backup while the server runs: VACUUM INTO a new file.
void BackUpSqlite(const std::string& db, const std::string& to) {
  sqlite3* conn = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &conn) == SQLITE_OK);
  const std::string sql = "VACUUM INTO '" + to + "'";
  const int rc = sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(conn);
  REQUIRE(rc == SQLITE_OK);
}

std::string Renew(const std::string& flag, const std::string& database) {
  auto r = RunProcess({ServerBinary(), "renew-epoch", flag, database});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("after a restore to an older backup devices start over and keep syncing", "[server][restore]") {
  const std::string backend = GENERATE(from_range(ServerBackends()));
  CAPTURE(backend);
  TempDir dir;
  ServerProcessOptions options = OptionsFor(backend);
  options.dir = dir.path().string();
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  std::string first, later;
  auto run = [&](const std::function<void(sync::Transport&, const std::string&)>& body) {
    ServerProcess server(options);
    INFO(server.error());
    REQUIRE(server.ok());
    sync::CpprestTransport transport(server.base_url());
    body(transport, server.Token("agent-1", "team-1"));
  };

  run([&](sync::Transport& t, const std::string& token) {
    auto id = a.archive->Add("customers", R"({"name":"备份前客户","notes":"备份前"})");
    REQUIRE(id.ok());
    first = *id;
    REQUIRE(a.Sync(t, token).ok());
    REQUIRE(b.Sync(t, token).ok());
    if (backend == "sqlite") BackUpSqlite(dir.File("server.db"), dir.File("backup.db"));
  });
  // PostgreSQL: a copy of the database as it is now (what pg_restore of a dump taken now
  // gives back); copying needs the server's connections gone.
  const std::string server_conn = options.postgres.substr(0, options.postgres.rfind(' '));
  const std::string db_name = options.postgres.substr(options.postgres.rfind('=') + 1);
  if (backend == "postgres") {
    REQUIRE(PostgresCluster::Exec(server_conn + " dbname=postgres",
                                  "CREATE DATABASE " + db_name + "_backup TEMPLATE " + db_name).ok());
  }

  run([&](sync::Transport& t, const std::string& token) {
    // Written and acknowledged after the backup.
    auto id = a.archive->Add("customers", R"({"name":"备份后客户"})");
    REQUIRE(id.ok());
    later = *id;
    REQUIRE(a.archive->Set("customers", first, R"({"notes":"备份后修改"})").ok());
    REQUIRE(a.Sync(t, token).ok());
    REQUIRE(b.Sync(t, token).ok());
  });
  const std::string before_restore = a.Export();
  REQUIRE(b.Export() == before_restore);

  // Restore (servers stopped), then renew the epoch as docs/operations.md says.
  if (backend == "sqlite") {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(dir.File(std::string("server.db") + suffix));
    std::filesystem::copy_file(dir.File("backup.db"), dir.File("server.db"));
    Renew("--db", dir.File("server.db"));
  } else {
    options.postgres = server_conn + " dbname=" + db_name + "_backup";
    Renew("--postgres", options.postgres);
  }

  run([&](sync::Transport& t, const std::string& token) {
    auto ra = a.Sync(t, token);
    auto rb = b.Sync(t, token);
    INFO(ra.status().ToString() << " / " << rb.status().ToString());
    REQUIRE(ra.ok());
    REQUIRE(rb.ok());
    // b started over from the beginning: it received the restored customer again.
    CHECK(rb->pulled >= 1);
    // The writer keeps everything it wrote, acknowledged or not.
    CHECK(a.Export() == before_restore);
    CHECK(b.Export().find("备份后客户") != std::string::npos);
    // New writes flow through the restored server.
    auto id = a.archive->Add("customers", R"({"name":"恢复后客户"})");
    REQUIRE(id.ok());
    REQUIRE(a.archive->Set("customers", first, R"({"notes":"恢复后再修改"})").ok());
    REQUIRE(a.Sync(t, token).ok());
    REQUIRE(b.Sync(t, token).ok());
    CHECK(b.Export().find("恢复后客户") != std::string::npos);
    CHECK(b.Export().find("恢复后再修改") != std::string::npos);
  });
}

TEST_CASE("renew-epoch refuses what is not a server database", "[server][restore]") {
  TempDir dir;
  auto missing = RunProcess({ServerBinary(), "renew-epoch", "--db", dir.File("none.db")});
  CHECK(missing.exit_code == 1);
  CHECK_FALSE(std::filesystem::exists(dir.File("none.db")));
  TestDevice device(dir.File("device.db"), "agent-1", "team-1");
  auto device_db = RunProcess({ServerBinary(), "renew-epoch", "--db", dir.File("device.db")});
  CHECK(device_db.exit_code == 1);
  CHECK(device_db.err.find("cannot renew the epoch") != std::string::npos);
  CHECK(RunProcess({ServerBinary(), "renew-epoch"}).exit_code == 2);
}
