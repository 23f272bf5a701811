#include "support/postgres_cluster.h"

#ifdef FIELDBOOK_TEST_WITH_LIBPQ
#include <libpq-fe.h>
#endif
#include <pwd.h>
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>

#include "fieldbook/server/pg_backend.h"

namespace fieldbook::testing {
namespace {

std::string Trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string FirstExisting(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    if (!c.empty() && access(c.c_str(), X_OK) == 0) return c;
  }
  return {};
}

std::string PostgresBinDir() {
  if (const char* dir = std::getenv("FIELDBOOK_PG_BINDIR"); dir != nullptr && *dir != '\0') return dir;
  for (const char* version : {"17", "16", "15", "14", "13"}) {
    const std::string dir = std::string("/usr/lib/postgresql/") + version + "/bin";
    if (access((dir + "/initdb").c_str(), X_OK) == 0) return dir;
  }
  return FirstExisting({"/usr/bin/initdb", "/usr/local/bin/initdb"}).empty() ? std::string() : "/usr/bin";
}

std::mutex g_mu;
std::unique_ptr<PostgresCluster> g_cluster;  // guarded by g_mu
std::string g_error;                         // guarded by g_mu: why it could not start
std::atomic<int> g_next_db{0};

}  // namespace

Result<PostgresCluster*> PostgresCluster::Shared() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_cluster) return g_cluster.get();
  if (!g_error.empty()) return Status(ErrorCode::kUnavailable, g_error);
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  Status started = cluster->Start();
  if (!started.ok()) {
    g_error = started.message();
    return started;
  }
  g_cluster = std::move(cluster);  // stopped by its destructor when the process exits
  return g_cluster.get();
}

Status PostgresCluster::Start() {
  if (const char* given = std::getenv("FIELDBOOK_TEST_POSTGRES"); given != nullptr && *given != '\0') {
    server_ = given;
    return Status::Ok();
  }
  bin_ = PostgresBinDir();
  if (bin_.empty()) {
    return Status(ErrorCode::kUnavailable,
                  "PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package, "
                  "set FIELDBOOK_PG_BINDIR, or point FIELDBOOK_TEST_POSTGRES at a running server");
  }
  char templ[] = "/tmp/fieldbook-pg-XXXXXX";
  if (mkdtemp(templ) == nullptr) return Status(ErrorCode::kIoError, "cannot create a directory for PostgreSQL");
  dir_ = templ;
  std::vector<std::string> prefix;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    const std::string runuser = FirstExisting({"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"});
    if (pw == nullptr || runuser.empty()) {
      return Status(ErrorCode::kUnavailable, "running as root, but there is no postgres user (or runuser) to run initdb");
    }
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Status(ErrorCode::kIoError, "cannot hand " + dir_ + " to the postgres user");
    }
    prefix = {runuser, "-u", "postgres", "--"};
    as_postgres_user_ = true;
  }
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, {}, std::chrono::seconds(60));
  };
  const std::string data = dir_ + "/data";
  auto init = run({bin_ + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                   "--no-sync"});
  if (init.exit_code != 0) return Status(ErrorCode::kUnavailable, "initdb failed: " + init.out + init.err);
  // A free port may be taken by a parallel test process before the server binds it: try
  // a few.
  int port = 0;
  std::string failure;
  for (int attempt = 0; attempt < 3 && port == 0; ++attempt) {
    const int candidate = UnusedPort();
    // Durability does not matter for a throwaway cluster; speed does.
    const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(candidate) + " -k " + dir_ +
                                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                                " -c max_connections=300 -c shared_buffers=32MB";
    auto start = run({bin_ + "/pg_ctl", "-D", data, "-o", options, "-l", dir_ + "/server.log", "-w", "-t", "60",
                      "start"});
    if (start.exit_code == 0) {
      port = candidate;
    } else {
      failure = start.out + start.err + ReadFile(dir_ + "/server.log");
    }
  }
  if (port == 0) return Status(ErrorCode::kUnavailable, "pg_ctl start failed: " + failure);
  server_ = "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres";
  return Status::Ok();
}

PostgresCluster::~PostgresCluster() {
  if (dir_.empty()) return;
  if (!bin_.empty()) {
    std::vector<std::string> argv;
    if (as_postgres_user_) {
      argv = {FirstExisting({"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}), "-u", "postgres", "--"};
    }
    argv.insert(argv.end(), {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"});
    (void)RunProcess(argv, {}, std::chrono::seconds(30));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

Status PostgresCluster::Exec(const std::string& conninfo, const std::string& sql) {
#ifndef FIELDBOOK_TEST_WITH_LIBPQ
  return Status(ErrorCode::kUnavailable, "tests built without libpq: cannot run " + sql + " on " + conninfo);
#else
  PGconn* conn = PQconnectdb(conninfo.c_str());
  Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = Status(ErrorCode::kCantOpen, "cannot connect: " + Trimmed(PQerrorMessage(conn)));
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
      status = Status(ErrorCode::kInternal, sql + ": " + Trimmed(PQresultErrorMessage(r)));
    }
    PQclear(r);
  }
  PQfinish(conn);
  return status;
#endif
}

Result<std::string> PostgresCluster::CreateDatabase() {
  const std::string name = "fbtest_" + std::to_string(getpid()) + "_" + std::to_string(g_next_db++) + "_" +
                           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
  FB_RETURN_IF_ERROR(Exec(server_ + " dbname=postgres", "CREATE DATABASE " + name));
  return server_ + " dbname=" + name;
}

std::vector<std::string> ServerBackends() {
  if (server::PostgresBackendBuilt()) return {"sqlite", "postgres"};
  return {"sqlite"};
}

ServerProcessOptions OptionsFor(const std::string& backend, ServerProcessOptions options) {
  if (backend != "postgres") return options;
  auto cluster = PostgresCluster::Shared();
  if (!cluster.ok()) FAIL("no PostgreSQL for the test: " << cluster.status().message());
  auto db = (*cluster)->CreateDatabase();
  if (!db.ok()) FAIL("cannot create a PostgreSQL database: " << db.status().message());
  options.postgres = *db;
  return options;
}

// ---------------------------------------------------------------- DatabaseWriteLock

struct DatabaseWriteLock::Impl {
  sqlite3* db = nullptr;
#ifdef FIELDBOOK_TEST_WITH_LIBPQ
  PGconn* pg = nullptr;
#endif
};

DatabaseWriteLock::DatabaseWriteLock(const std::string& backend, const std::string& database) : impl_(new Impl) {
#ifdef FIELDBOOK_TEST_WITH_LIBPQ
  if (backend == "postgres") {
    impl_->pg = PQconnectdb(database.c_str());
    REQUIRE(PQstatus(impl_->pg) == CONNECTION_OK);
    // Every write starts by upserting its tenant's counter row, which this lock blocks.
    PGresult* r = PQexec(impl_->pg, "BEGIN; LOCK TABLE srv_tenants IN EXCLUSIVE MODE");
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    REQUIRE(ok);
    return;
  }
#endif
  {
    REQUIRE(backend == "sqlite");
    REQUIRE(sqlite3_open(database.c_str(), &impl_->db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(impl_->db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  }
}

DatabaseWriteLock::~DatabaseWriteLock() {
  Release();
  delete impl_;
}

void DatabaseWriteLock::Release() {
  if (impl_->db != nullptr) {
    sqlite3_exec(impl_->db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(impl_->db);
    impl_->db = nullptr;
  }
#ifdef FIELDBOOK_TEST_WITH_LIBPQ
  if (impl_->pg != nullptr) {
    PQclear(PQexec(impl_->pg, "COMMIT"));
    PQfinish(impl_->pg);
    impl_->pg = nullptr;
  }
#endif
}

}  // namespace fieldbook::testing
