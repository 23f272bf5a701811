// ChangeLog: which synced tables a connection's committed writes touched, for the change
// notifications of the C API.
//
// SQLite's update hook counts each row written; the commit hook moves the counts of the
// transaction into the committed set and the rollback hook drops them. Rows written by
// triggers into our own fb_ tables, and tables that do not sync, are not counted.
//
// Guarantees:
//  1. Every row change committed on the connection is counted (over-reporting is possible
//     when a savepoint is rolled back inside a transaction that commits: notifications
//     are hints to refresh, never a diff).
//  2. Not thread-safe by itself: used under the lock of the Database that owns the
//     connection (the hooks run on the thread writing, which holds that lock).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

struct sqlite3;

namespace fieldbook::platform {

class ChangeLog {
 public:
  ChangeLog() = default;
  ChangeLog(const ChangeLog&) = delete;
  ChangeLog& operator=(const ChangeLog&) = delete;
  ~ChangeLog() { Detach(); }

  // Installs the hooks on `db`; only `tables` are counted.
  void Attach(sqlite3* db, std::set<std::string, std::less<>> tables);
  // Removes the hooks (before the connection closes).
  void Detach();

  bool HasCommitted() const { return !committed_.empty(); }
  // {"origin": ORIGIN, "tables": {"T": {"inserted": n, "updated": n, "deleted": n}}} for
  // the changes committed since the last call, then forgets them; empty when none.
  std::string TakeJson(std::string_view origin);

 private:
  struct Counts {
    int64_t inserted = 0;
    int64_t updated = 0;
    int64_t deleted = 0;
  };
  static void OnUpdate(void* self, int op, const char* database, const char* table, long long rowid);
  static int OnCommit(void* self);
  static void OnRollback(void* self);

  sqlite3* db_ = nullptr;
  std::set<std::string, std::less<>> tables_;
  std::map<std::string, Counts, std::less<>> pending_;    // the open transaction
  std::map<std::string, Counts, std::less<>> committed_;  // not yet taken
};

}  // namespace fieldbook::platform
