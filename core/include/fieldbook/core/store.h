// Store: one agent profile's SQLite file.
//
// Invariants (checked in debug builds by Store::CheckInvariants):
//  1. The connection runs in WAL mode with foreign keys on and a busy timeout.
//  2. PRAGMA user_version equals registry().version() once Open returns; a file whose
//     version is newer is refused before anything is written to it.
//  3. Every schema component (core, sync, ...) is recorded in fb_schema with the version
//     that created its tables; a component newer than this build knows is refused.
//  4. A Transaction that is neither committed nor rolled back explicitly rolls back when
//     destroyed, so a failed operation leaves no half-applied write.
//
// A Store is used by one thread at a time; the C ABI serialises access with a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/env.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/value.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fieldbook {

struct StoreOptions {
  bool create_if_missing = true;
  bool read_only = false;
  int busy_timeout_ms = 5000;
  // Caps the file size in pages (tests use it to simulate a full disk).
  std::optional<int64_t> max_page_count;
  // "FULL" keeps every commit across power loss. "NORMAL" and "OFF" keep them across a
  // killed process but may lose the latest ones on power loss; "OFF" is for simulations.
  std::string synchronous = "FULL";
  Env* env = nullptr;  // defaults to SystemEnv()
  // Tables this store holds; defaults to the customer archive (ArchiveRegistry()).
  const SchemaRegistry* registry = nullptr;
};

class Store;
class CellCipher;

// A prepared statement borrowed from the Store's cache; reset and unbound on destruction.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based as in SQLite.
  Statement& Bind(int index, int64_t v);
  Statement& Bind(int index, int v) { return Bind(index, static_cast<int64_t>(v)); }
  Statement& Bind(int index, double v);
  Statement& Bind(int index, std::string_view v);
  Statement& Bind(int index, const char* v) { return Bind(index, std::string_view(v)); }
  Statement& Bind(int index, const std::string& v) { return Bind(index, std::string_view(v)); }
  Statement& BindBlob(int index, const void* data, size_t n);
  Statement& BindNull(int index);
  Statement& Bind(int index, const Value& v);
  // Binds without copying text: `v` must stay alive and unchanged until the statement is
  // reset or the parameter bound again. For many rows bound from values already in memory.
  Statement& BindUnowned(int index, const Value& v);
  Statement& BindUnowned(int index, std::string_view v);
  Statement& BindUnowned(int index, const std::string& v) { return BindUnowned(index, std::string_view(v)); }
  Statement& Bind(int index, const std::optional<std::string>& v);
  Statement& Bind(int index, const std::optional<int64_t>& v);

  // Advances one row: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion (for statements that return no rows).
  Status Run();
  void Reset();

  int ColumnCount() const;
  std::string_view ColumnName(int col) const;
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;
  std::string_view Text(int col) const;
  std::string String(int col) const { return std::string(Text(col)); }
  std::optional<std::string> OptString(int col) const;
  std::optional<int64_t> OptInt(int col) const;
  Value GetValue(int col) const;

  sqlite3_stmt* raw() const { return stmt_; }
  Store* store() const { return store_; }

 private:
  friend class Store;
  // `in_use` is the cache entry's flag, or null when the statement is not from the cache.
  Statement(Store* store, sqlite3_stmt* stmt, bool* in_use) : store_(store), stmt_(stmt), in_use_(in_use) {}
  void Release();

  Store* store_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  bool* in_use_ = nullptr;  // the cache entry's flag; null when owned (the cached one was busy)
  Status bind_error_;
};

enum class TxnMode { kDeferred, kImmediate };

class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();
  Status Rollback();

 private:
  friend class Store;
  Transaction(Store* store, int depth) : store_(store), depth_(depth) {}
  Store* store_;
  int depth_;  // 0 = BEGIN/COMMIT, >0 = SAVEPOINT
  bool done_ = false;
};

// A schema component owned by a layer above core (sync, platform) that keeps its own
// tables in the same file. Steps run in order, each in the open transaction.
struct SchemaComponent {
  std::string name;
  int version = 0;
  std::function<Status(Store&, int from_version)> migrate;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  Env& env() const { return *env_; }
  const SchemaRegistry& registry() const { return registry_; }
  sqlite3* handle() const { return db_; }

  // Runs one or more statements without parameters.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  Result<Transaction> Begin(TxnMode mode = TxnMode::kImmediate);
  bool InTransaction() const;

  // Installs or upgrades a component's tables (idempotent; refuses a newer one).
  Status EnsureComponent(const SchemaComponent& component);
  Result<int> ComponentVersion(std::string_view name);

  // Profile settings kept in fb_settings (agent id, team, ...).
  Result<std::optional<std::string>> GetSetting(std::string_view key);
  Status SetSetting(std::string_view key, std::string_view value);

  // Converts the connection's last error (rc) into a Status naming what was being done.
  Status SqliteError(int rc, std::string_view what) const;

  // Merges every FTS5 index's segments, so tokens of replaced or deleted values leave the
  // file (after re-encryption or an erasure).
  Status OptimizeFullText();

  int64_t changes() const;
  int64_t last_insert_rowid() const;
  std::string NewId() const;

  // Encryption at rest of sensitive text columns (see encryption.h): the cipher Records
  // and the sync engine seal values with before writing and open them with after reading.
  // Null when the profile is not encrypted.
  const CellCipher* cipher() const { return cipher_.get(); }
  void SetCipher(std::shared_ptr<const CellCipher> cipher) { cipher_ = std::move(cipher); }

  // Debug check of the invariants in the file comment.
  Status CheckInvariants();

  // Stores currently open in this process; the test suite fails a test that leaks one.
  static int64_t LiveCount();

 private:
  friend class Statement;
  friend class Transaction;
  Store(std::string path, Env* env, const SchemaRegistry& registry);
  Status Configure(const StoreOptions& options);
  Status Migrate();

  const std::string path_;
  Env* const env_;
  const SchemaRegistry& registry_;
  sqlite3* db_ = nullptr;
  int txn_depth_ = 0;
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::map<std::string, CachedStatement, std::less<>> cache_;
  std::shared_ptr<const CellCipher> cipher_;
};

// Quotes an SQL identifier ("name" with embedded quotes doubled): the one place
// generated SQL gets its names from.
std::string QuoteIdent(std::string_view name);

// Process-wide SQLite settings for a program that owns its process (the fieldbook CLI,
// fieldbook-server, the benches): SQLite keeps no memory statistics, which otherwise made
// every one of its allocations take a global mutex shared by all threads (SQLite's own
// advice, SQLITE_DEFAULT_MEMSTATUS=0). Call it first in main, before any thread or
// connection exists; once SQLite is in use it does nothing. A library embedded in an
// app leaves this to the app, whose process it is.
void ConfigureSqliteForProcess();

}  // namespace fieldbook
