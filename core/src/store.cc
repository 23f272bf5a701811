#include "fieldbook/core/store.h"

#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "fieldbook/core/archive_schema.h"
#include "fieldbook/core/ids.h"
#include "schema_ddl.h"

namespace fieldbook {
namespace {

ErrorCode CodeOfSqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return ErrorCode::kDiskFull;
    case SQLITE_NOTADB: return ErrorCode::kNotADatabase;
    case SQLITE_CORRUPT: return ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kBusy;
    case SQLITE_READONLY: return ErrorCode::kReadOnly;
    case SQLITE_CONSTRAINT: return ErrorCode::kConstraint;
    case SQLITE_IOERR: return ErrorCode::kIoError;
    case SQLITE_CANTOPEN: return ErrorCode::kCantOpen;
    case SQLITE_NOMEM: return ErrorCode::kInternal;
    default: return ErrorCode::kSqliteError;
  }
}

// A file that exists, is non-empty and lacks SQLite's magic header is not ours to touch.
Status CheckHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Ok();  // absent: will be created (or refused by open)
  char header[16] = {};
  in.read(header, sizeof header);
  const auto got = in.gcount();
  if (got == 0) return Status::Ok();  // empty file: SQLite treats it as a new database
  if (got < 16 || std::memcmp(header, "SQLite format 3", 16) != 0) {
    return Status(ErrorCode::kNotADatabase,
                  "not a Fieldbook database (no SQLite header): " + path);
  }
  return Status::Ok();
}

}  // namespace

void ConfigureSqliteForProcess() { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// ---------------------------------------------------------------- Statement

Statement::Statement(Statement&& o) noexcept
    : store_(o.store_), stmt_(o.stmt_), in_use_(o.in_use_), bind_error_(std::move(o.bind_error_)) {
  o.stmt_ = nullptr;
  o.store_ = nullptr;
}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    Release();
    store_ = o.store_;
    stmt_ = o.stmt_;
    in_use_ = o.in_use_;
    bind_error_ = std::move(o.bind_error_);
    o.stmt_ = nullptr;
    o.store_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { Release(); }

void Statement::Release() {
  if (!stmt_) return;
  if (!in_use_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;  // map nodes do not move
  }
  stmt_ = nullptr;
}

namespace {
void NoteBind(Status& slot, int rc, sqlite3* db, int index) {
  if (rc != SQLITE_OK && slot.ok()) {
    slot = Status(ErrorCode::kSqliteError,
                  "binding parameter " + std::to_string(index) + ": " + sqlite3_errmsg(db));
  }
}
}  // namespace

Statement& Statement::Bind(int index, int64_t v) {
  NoteBind(bind_error_, sqlite3_bind_int64(stmt_, index, v), store_->db_, index);
  return *this;
}

Statement& Statement::Bind(int index, double v) {
  NoteBind(bind_error_, sqlite3_bind_double(stmt_, index, v), store_->db_, index);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view v) {
  NoteBind(bind_error_,
           sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
           store_->db_, index);
  return *this;
}

Statement& Statement::BindBlob(int index, const void* data, size_t n) {
  NoteBind(bind_error_, sqlite3_bind_blob64(stmt_, index, data, n, SQLITE_TRANSIENT), store_->db_,
           index);
  return *this;
}

Statement& Statement::BindNull(int index) {
  NoteBind(bind_error_, sqlite3_bind_null(stmt_, index), store_->db_, index);
  return *this;
}

Statement& Statement::Bind(int index, const Value& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return Bind(index, *i);
  if (auto* d = std::get_if<double>(&v)) return Bind(index, *d);
  if (auto* s = std::get_if<std::string>(&v)) return Bind(index, std::string_view(*s));
  return BindNull(index);
}

Statement& Statement::BindUnowned(int index, const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return BindUnowned(index, std::string_view(*s));
  return Bind(index, v);
}

Statement& Statement::BindUnowned(int index, std::string_view v) {
  NoteBind(bind_error_, sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8),
           store_->db_, index);
  return *this;
}

Statement& Statement::Bind(int index, const std::optional<std::string>& v) {
  return v ? Bind(index, std::string_view(*v)) : BindNull(index);
}

Statement& Statement::Bind(int index, const std::optional<int64_t>& v) {
  return v ? Bind(index, *v) : BindNull(index);
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // With the v2 interface the detailed code comes back from step itself.
  Status s = store_->SqliteError(rc, "running statement");
  sqlite3_reset(stmt_);
  return s;
}

Status Statement::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) break;
  }
  sqlite3_reset(stmt_);
  return Status::Ok();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::Ok();
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }
std::string_view Statement::ColumnName(int col) const { return sqlite3_column_name(stmt_, col); }
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string_view Statement::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<std::string> Statement::OptString(int col) const {
  if (IsNull(col)) return std::nullopt;
  return String(col);
}

std::optional<int64_t> Statement::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

Value Statement::GetValue(int col) const {
  switch (sqlite3_column_type(stmt_, col)) {
    case SQLITE_INTEGER: return Int(col);
    case SQLITE_FLOAT: return Double(col);
    case SQLITE_NULL: return std::monostate{};
    default: return String(col);
  }
}

// ---------------------------------------------------------------- Transaction

Transaction::Transaction(Transaction&& o) noexcept : store_(o.store_), depth_(o.depth_), done_(o.done_) {
  o.done_ = true;
}

Transaction::~Transaction() {
  if (!done_) (void)Rollback();
}

Status Transaction::Commit() {
  if (done_) return Status(ErrorCode::kInternal, "transaction already finished");
  const std::string sql =
      depth_ == 0 ? "COMMIT" : "RELEASE fb_sp" + std::to_string(depth_);
  Status s = store_->Exec(sql);
  if (!s.ok()) {
    (void)Rollback();
    return s;
  }
  done_ = true;
  --store_->txn_depth_;
  return Status::Ok();
}

Status Transaction::Rollback() {
  if (done_) return Status::Ok();
  done_ = true;
  --store_->txn_depth_;
  if (depth_ == 0) {
    // After some errors SQLite has already rolled back; that is fine.
    if (sqlite3_get_autocommit(store_->db_)) return Status::Ok();
    return store_->Exec("ROLLBACK");
  }
  const std::string sp = "fb_sp" + std::to_string(depth_);
  Status s = store_->Exec("ROLLBACK TO " + sp);
  Status r = store_->Exec("RELEASE " + sp);
  return s.ok() ? r : s;
}

// ---------------------------------------------------------------- Store

namespace {
std::atomic<int64_t> g_live_stores{0};  // diagnostics only: read by the test suite
}  // namespace

int64_t Store::LiveCount() { return g_live_stores.load(); }

Store::Store(std::string path, Env* env, const SchemaRegistry& registry)
    : path_(std::move(path)), env_(env), registry_(registry) {
  ++g_live_stores;
}

Store::~Store() {
  --g_live_stores;
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  cache_.clear();
  if (db_) sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  if (path.empty()) return Status(ErrorCode::kInvalidArgument, "database path is empty");
  if (path != ":memory:") FB_RETURN_IF_ERROR(CheckHeader(path));
  const SchemaRegistry& registry = options.registry ? *options.registry : ArchiveRegistry();
  std::unique_ptr<Store> store(new Store(path, options.env ? options.env : &SystemEnv(), registry));
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create_if_missing && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &store->db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = store->db_ ? store->SqliteError(rc, "opening " + path)
                          : Status(ErrorCode::kInternal, "out of memory opening " + path);
    if (!options.create_if_missing && (rc & 0xff) == SQLITE_CANTOPEN) {
      s = Status(ErrorCode::kNotInitialized,
                 "no profile database at " + path + " (run `fieldbook --db FILE init` first)");
    }
    return s;
  }
  sqlite3_extended_result_codes(store->db_, 1);
  FB_RETURN_IF_ERROR(store->Configure(options));
  if (!options.read_only) FB_RETURN_IF_ERROR(store->Migrate());
  return store;
}

Status Store::Configure(const StoreOptions& options) {
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  // Read the version before anything writes to the file: a newer schema stays untouched.
  auto st = Prepare("PRAGMA user_version");
  if (!st.ok()) return st.status();
  auto row = st->Step();
  if (!row.ok()) {
    if (row.status().code() == ErrorCode::kNotADatabase) {
      return Status(ErrorCode::kNotADatabase, "not a Fieldbook database: " + path_);
    }
    return row.status();
  }
  const int64_t version = *row ? st->Int(0) : 0;
  st->Reset();
  if (version > registry_.version()) {
    return Status(ErrorCode::kSchemaTooNew,
                  "database " + path_ + " was written by a newer Fieldbook (schema " +
                      std::to_string(version) + ", this build knows up to " +
                      std::to_string(registry_.version()) + "); it was not opened or changed");
  }
  if (!options.read_only && path_ != ":memory:") {
    auto mode = Prepare("PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.status();
    auto r = mode->Step();
    if (!r.ok()) return r.status();
    if (!*r || mode->Text(0) != "wal") {
      return Status(ErrorCode::kIoError, "could not switch " + path_ + " to WAL mode");
    }
  }
  FB_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
  const std::string sync_mode =
      options.synchronous == "NORMAL" || options.synchronous == "OFF" ? options.synchronous : std::string("FULL");
  FB_RETURN_IF_ERROR(Exec("PRAGMA synchronous=" + sync_mode));
  FB_RETURN_IF_ERROR(Exec("PRAGMA cache_size=-8192"));
  // Reads through a memory map: a page the cache evicted comes back without a read(2)
  // each, which is what a scan of a large book (reports, calendar, short searches) pays
  // most for once the book outgrows the cache. Pages stay in the OS page cache either way.
  if (path_ != ":memory:") FB_RETURN_IF_ERROR(Exec("PRAGMA mmap_size=268435456"));
  FB_RETURN_IF_ERROR(Exec("PRAGMA temp_store=MEMORY"));
  if (options.max_page_count) {
    FB_RETURN_IF_ERROR(Exec("PRAGMA max_page_count=" + std::to_string(*options.max_page_count)));
  }
  return Status::Ok();
}

Status Store::Migrate() {
  auto txn = Begin(TxnMode::kImmediate);
  if (!txn.ok()) return txn.status();
  // Re-read inside the write lock: another process may have migrated meanwhile.
  auto st = Prepare("PRAGMA user_version");
  if (!st.ok()) return st.status();
  auto row = st->Step();
  if (!row.ok()) return row.status();
  const int current = static_cast<int>(st->Int(0));
  st->Reset();
  if (current > registry_.version()) {
    return Status(ErrorCode::kSchemaTooNew, "database " + path_ + " was written by a newer Fieldbook");
  }
  if (current == registry_.version()) return txn->Commit();
  for (int v = current + 1; v <= registry_.version(); ++v) {
    for (const std::string& sql : SchemaStepDdl(registry_, v)) {
      Status s = Exec(sql);
      if (!s.ok()) return Status(s.code(), "migrating to schema " + std::to_string(v) + ": " + s.message());
    }
  }
  FB_RETURN_IF_ERROR(Exec("PRAGMA user_version=" + std::to_string(registry_.version())));
  return txn->Commit();
}

Status Store::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(CodeOfSqlite(rc), msg);
}

Result<Statement> Store::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(this, it->second.stmt, &it->second.in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, "preparing SQL");
  if (it != cache_.end()) return Statement(this, stmt, nullptr);  // cached copy is busy
  auto added = cache_.emplace(std::string(sql), CachedStatement{stmt, true}).first;
  return Statement(this, stmt, &added->second.in_use);
}

Result<Transaction> Store::Begin(TxnMode mode) {
  const int depth = txn_depth_;
  Status s = depth == 0 ? Exec(mode == TxnMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN")
                        : Exec("SAVEPOINT fb_sp" + std::to_string(depth));
  if (!s.ok()) return s;
  ++txn_depth_;
  return Transaction(this, depth);
}

bool Store::InTransaction() const { return !sqlite3_get_autocommit(db_); }

Status Store::EnsureComponent(const SchemaComponent& component) {
  auto current = ComponentVersion(component.name);
  if (!current.ok()) return current.status();
  if (*current > component.version) {
    return Status(ErrorCode::kSchemaTooNew,
                  "the " + component.name + " tables in " + path_ + " were written by a newer Fieldbook");
  }
  if (*current == component.version) return Status::Ok();
  auto txn = Begin();
  if (!txn.ok()) return txn.status();
  auto again = ComponentVersion(component.name);
  if (!again.ok()) return again.status();
  if (*again < component.version) {
    FB_RETURN_IF_ERROR(component.migrate(*this, *again));
    auto st = Prepare(
        "INSERT INTO fb_schema(component, version) VALUES(?1, ?2) "
        "ON CONFLICT(component) DO UPDATE SET version = excluded.version");
    if (!st.ok()) return st.status();
    FB_RETURN_IF_ERROR(st->Bind(1, component.name).Bind(2, component.version).Run());
  }
  return txn->Commit();
}

Result<int> Store::ComponentVersion(std::string_view name) {
  auto st = Prepare("SELECT version FROM fb_schema WHERE component = ?1");
  if (!st.ok()) return st.status();
  st->Bind(1, name);
  auto row = st->Step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<int>(st->Int(0)) : 0;
}

Result<std::optional<std::string>> Store::GetSetting(std::string_view key) {
  auto st = Prepare("SELECT value FROM fb_settings WHERE key = ?1");
  if (!st.ok()) return st.status();
  st->Bind(1, key);
  auto row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->String(0));
}

Status Store::SetSetting(std::string_view key, std::string_view value) {
  auto st = Prepare(
      "INSERT INTO fb_settings(key, value) VALUES(?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!st.ok()) return st.status();
  return st->Bind(1, key).Bind(2, value).Run();
}

Status Store::OptimizeFullText() {
  std::vector<std::string> fts;
  {
    FB_ASSIGN_OR_RETURN(Statement st, Prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      fts.push_back(st.String(0));
    }
  }
  for (const auto& name : fts) {
    FB_RETURN_IF_ERROR(Exec("INSERT INTO " + QuoteIdent(name) + "(" + QuoteIdent(name) + ") VALUES ('optimize')"));
  }
  return Status::Ok();
}

Status Store::SqliteError(int rc, std::string_view what) const {
  const ErrorCode code = CodeOfSqlite(rc);
  std::string msg(what);
  msg += ": ";
  msg += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (code == ErrorCode::kDiskFull) msg += " (the disk or the database's size limit is full; nothing was written)";
  if (code == ErrorCode::kCorrupt || code == ErrorCode::kNotADatabase) msg += " (" + path_ + ")";
  return Status(code, msg);
}

int64_t Store::changes() const { return sqlite3_changes64(db_); }
int64_t Store::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
std::string Store::NewId() const { return NewUuidV7(*env_); }

Status Store::CheckInvariants() {
  auto check = [&](const char* sql, std::string_view expect, const char* what) -> Status {
    auto st = Prepare(sql);
    if (!st.ok()) return st.status();
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row || st->Text(0) != expect) {
      return Status(ErrorCode::kInternal, std::string("invariant broken: ") + what);
    }
    return Status::Ok();
  };
  if (path_ != ":memory:") FB_RETURN_IF_ERROR(check("PRAGMA journal_mode", "wal", "WAL mode"));
  FB_RETURN_IF_ERROR(check("PRAGMA foreign_keys", "1", "foreign keys on"));
  FB_RETURN_IF_ERROR(check("PRAGMA user_version", std::to_string(registry_.version()), "schema version"));
  if (txn_depth_ != 0 && !InTransaction()) return Status(ErrorCode::kInternal, "invariant broken: transaction depth");
  return Status::Ok();
}

}  // namespace fieldbook
