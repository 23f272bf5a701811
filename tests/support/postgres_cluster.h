// A real PostgreSQL server for tests, and the choice of server backend every server test
// runs against.
//
// Guarantees:
//  1. One cluster per test process, started on first use (initdb + pg_ctl on a temporary
//     directory, 127.0.0.1 on a free port, its unix socket inside that directory) and
//     stopped (pg_ctl stop -m immediate) and removed when the process exits. As root the
//     cluster runs as the `postgres` user, since initdb refuses root.
//  2. FIELDBOOK_TEST_POSTGRES, when set, names a running server (libpq connection string
//     of a role that may CREATE DATABASE) to use instead of starting one.
//  3. Every CreateDatabase() is a fresh, empty database: test cases never share data.
#pragma once

#include <string>
#include <vector>

#include "fieldbook/core/status.h"
#include "support/server_process.h"

namespace fieldbook::testing {

class PostgresCluster {
 public:
  // The process's cluster (guarantee 1); an error says why it could not start.
  static Result<PostgresCluster*> Shared();

  // A new database; returns its connection string.
  Result<std::string> CreateDatabase();
  // Runs SQL on a database (for tests that inspect or hold locks).
  static Status Exec(const std::string& conninfo, const std::string& sql);

  ~PostgresCluster();

 private:
  PostgresCluster() = default;
  Status Start();

  std::string server_;  // "host=... port=... user=..." without dbname
  std::string dir_;     // empty when the server is not ours
  std::string bin_;
  bool as_postgres_user_ = false;
};

// "sqlite" and, when this build has the PostgreSQL backend, "postgres".
std::vector<std::string> ServerBackends();

// Server process options for a backend: for "postgres" a fresh database in the shared
// cluster (a failure to start it fails the test with the reason).
ServerProcessOptions OptionsFor(const std::string& backend, ServerProcessOptions options = {});

// In a TEST_CASE body: the rest of the test case runs once per backend (Catch2 GENERATE;
// the backend's name in `backend`) with `server`, a fieldbook-server started on it with
// `options` as OptionsFor(backend, options) gives them; the test case stops, with the
// reason, when the server does not start.
#define FB_SERVER_ON_EACH_BACKEND(server, options)                    \
  const std::string backend = GENERATE(from_range(ServerBackends())); \
  CAPTURE(backend);                                                   \
  ServerProcess server(OptionsFor(backend, options));                 \
  INFO(server.error());                                               \
  REQUIRE(server.ok())

// Holds the write lock every sync takes (SQLite's database lock, or PostgreSQL's lock on
// the tenant counters) until released, as a long-running writer would.
class DatabaseWriteLock {
 public:
  // `database` is the SQLite file or the PostgreSQL connection string.
  DatabaseWriteLock(const std::string& backend, const std::string& database);
  ~DatabaseWriteLock();
  void Release();

 private:
  struct Impl;
  Impl* impl_ = nullptr;
};

}  // namespace fieldbook::testing
