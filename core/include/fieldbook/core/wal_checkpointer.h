// Checkpoints a WAL database on a connection and thread of its own.
//
// SQLite's auto-checkpoint runs inside the commit that takes the WAL past 1000 pages:
// that commit copies the WAL back into the database file and syncs it, 10-20 ms on top
// of writing a page of 2500 customers. A connection the checkpointer watches only
// appends to the WAL: once a commit leaves the WAL at kFrames or more, it wakes the
// checkpointer, which checkpoints PASSIVE (it never waits for a reader or the writer)
// while the writer goes on.
//
// Used by the server's SQLite backend for its whole life and by the sync client while a
// sync writes pulled pages.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace fieldbook {

class WalCheckpointer {
 public:
  static constexpr int kFrames = 1000;  // SQLite's own auto-checkpoint threshold

  // A checkpointer for the database `db` has open, or null where there can be none (an
  // in-memory database, a device with one core). Its own connection and thread are made
  // at the first commit that needs a checkpoint; should that fail (not a WAL database,
  // no thread), the watched connection goes back to checkpointing itself.
  static std::unique_ptr<WalCheckpointer> Start(sqlite3* db);
  // Stops the thread (after the checkpoint under way, if any) and closes its connection.
  // Connections watched must have been unwatched, or closed, before.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces `db`'s auto-checkpoint with this checkpointer.
  void Watch(sqlite3* db);
  // Gives `db` its own auto-checkpoint back, every `frames` WAL pages.
  static void Unwatch(sqlite3* db, int frames = kFrames);

 private:
  explicit WalCheckpointer(std::string file);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int frames);
  bool Open();  // the connection and the thread, under mu_
  void Run();

  const std::string file_;
  std::mutex mu_;
  bool opened_ = false;     // guarded by mu_: Open was tried
  bool usable_ = false;     // guarded by mu_: and worked
  sqlite3* own_ = nullptr;  // the checkpointer's connection: its thread's, once opened
  std::condition_variable cv_;
  bool due_ = false;   // guarded by mu_
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace fieldbook
