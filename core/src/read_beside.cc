#include "read_beside.h"

#include <atomic>
#include <system_error>

namespace fieldbook {
namespace {

std::atomic<int64_t> g_from_customers{10000};

// The connection's data version: it changes when another connection has committed since
// this one last read. In a transaction, reading it starts the snapshot.
std::optional<int64_t> DataVersion(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  std::optional<int64_t> version;
  if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    version = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return version;
}

}  // namespace

Status RawQuery::Prepare(const std::string& sql) {
  const int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st_, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "preparing a query");
}

Result<bool> RawQuery::Step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(rc, "running statement");
}

Status RawQuery::Error(int rc, std::string_view what) const {
  if (store_) return store_->SqliteError(rc, what);
  return Status(ErrorCode::kInternal, std::string(what) + " on a second connection: " + sqlite3_errmsg(db_));
}

Result<bool> ReadBeside::Worthwhile(Store& store) {
  // On one core the second connection's reads would only queue behind the first's.
  if (std::thread::hardware_concurrency() == 1) return false;
  if (sqlite3_get_autocommit(store.handle()) == 0) return false;
  // An estimate outside any snapshot, and cheap: the count would read the whole table.
  FB_ASSIGN_OR_RETURN(Statement last, store.Prepare("SELECT max(rowid) FROM customers"));
  FB_ASSIGN_OR_RETURN(const bool row, last.Step());
  return row && last.OptInt(0).value_or(0) >= g_from_customers.load();
}

ReadBeside::ReadBeside(Store& store, bool share, Read read) : store_(store), read_(std::move(read)) {
  if (!share) return;
  Open();
  // The profile's snapshot starts here, after the second connection's version was read.
  if (!db_ || !DataVersion(store_.handle())) {
    db_.reset();
    return;
  }
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error&) {  // no thread: the profile's connection reads
    db_.reset();
  }
}

ReadBeside::~ReadBeside() {
  if (thread_.joinable()) thread_.join();
}

void ReadBeside::Open() {
  const char* file = sqlite3_db_filename(store_.handle(), "main");
  if (file == nullptr || *file == '\0') return;  // in memory
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(db);
  if (rc != SQLITE_OK) {
    db_.reset();
    return;
  }
  // It waits little for a lock (a WAL reader seldom has to): the profile's connection,
  // which waits as long as the profile does, reads instead.
  sqlite3_busy_timeout(db, 200);
  const auto version = DataVersion(db);
  if (!version) {
    db_.reset();
    return;
  }
  version_ = *version;
}

void ReadBeside::Run() {
  try {
    sqlite3* db = db_.get();
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
      result_ = Status(ErrorCode::kInternal, std::string("second connection: ") + sqlite3_errmsg(db));
    } else if (const auto version = DataVersion(db); !version || *version != version_) {
      result_ = Status(ErrorCode::kInternal, "the profile changed as the read began");
    } else {
      result_ = read_(db, nullptr);
    }
  } catch (const std::exception&) {  // out of memory here: the profile's connection tries
    result_.reset();
  }
  db_.reset();  // closed here, off the caller's thread
}

Status ReadBeside::Finish() {
  if (thread_.joinable()) thread_.join();
  if (result_ && result_->ok()) return Status::Ok();
  result_.reset();
  return read_(store_.handle(), &store_);
}

namespace internal {
int64_t SetReadBesideThreshold(int64_t customers) { return g_from_customers.exchange(customers); }
}  // namespace internal

}  // namespace fieldbook
