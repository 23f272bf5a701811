// Reading part of a profile on a second connection, in the profile's own snapshot, while
// the profile's connection reads the rest: the calendar and the reports read 100k-row
// tables one after another on one core of a device that has two or more.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <sqlite3.h>

#include "fieldbook/core/store.h"

namespace fieldbook {

// A query on a raw connection (a Statement belongs to a Store). `store` names the profile
// when `db` is its own connection, so that errors read as its other storage errors.
class RawQuery {
 public:
  RawQuery(sqlite3* db, const Store* store) : db_(db), store_(store) {}
  RawQuery(const RawQuery&) = delete;
  RawQuery& operator=(const RawQuery&) = delete;
  ~RawQuery() { sqlite3_finalize(st_); }
  Status Prepare(const std::string& sql);
  void Bind(int index, int64_t v) { sqlite3_bind_int64(st_, index, v); }
  void Bind(int index, std::string_view v) {
    sqlite3_bind_text(st_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  Result<bool> Step();
  bool IsNull(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(st_, col); }
  std::optional<int64_t> OptInt(int col) const {
    return IsNull(col) ? std::nullopt : std::optional<int64_t>(Int(col));
  }
  std::string_view Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(st_, col))) : std::string_view();
  }

 private:
  Status Error(int rc, std::string_view what) const;
  sqlite3* const db_;
  const Store* const store_;
  sqlite3_stmt* st_ = nullptr;
};

// Runs `read` on a second, read-only connection to the profile's file on another thread,
// when that connection's snapshot is provably the profile's: its data version (PRAGMA
// data_version) is read before the profile's snapshot starts and again once its own has,
// and the same version means nothing was committed in between. Otherwise (a profile in
// memory, a commit in between, any failure) `read` runs on the profile's connection in
// Finish. `read` must start its output afresh: after a failure on the second connection
// it runs again.
class ReadBeside {
 public:
  using Read = std::function<Status(sqlite3* db, const Store* store)>;

  // Whether a second connection is worth it for `store`, asked before its transaction
  // begins: the device has more than one core, no transaction of the caller's is open (its
  // writes would not be seen there), and the book holds enough customers to repay the
  // second connection's parse of the whole schema (~6 ms) before it reads.
  static Result<bool> Worthwhile(Store& store);

  // In a deferred transaction of `store` that has not read yet: its snapshot starts here.
  // `share` false (see Worthwhile): `read` waits for Finish.
  ReadBeside(Store& store, bool share, Read read);
  ReadBeside(const ReadBeside&) = delete;
  ReadBeside& operator=(const ReadBeside&) = delete;
  ~ReadBeside();

  // Waits for the second connection's read, or reads on the profile's connection now.
  Status Finish();

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  void Open();
  void Run();

  Store& store_;
  const Read read_;
  std::unique_ptr<sqlite3, Close> db_;
  int64_t version_ = 0;
  std::optional<Status> result_;
  std::thread thread_;
};

namespace internal {
// From how many customers (the largest rowid) ReadBeside::Worthwhile says yes: 10000
// unless set. Tests of small books set 0 to take the second connection, then set back what
// this returns.
int64_t SetReadBesideThreshold(int64_t customers);
}  // namespace internal

}  // namespace fieldbook
