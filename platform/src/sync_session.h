// SyncSession: the object behind a fieldbook_sync handle. It owns the callback transport
// and the scheduler of one Database, and runs syncs with the database's lock held except
// while waiting on the network.
//
// Invariants:
//  1. One sync at a time (sync_mu_), whether the scheduler thread or fieldbook_sync_run
//     started it. Lock order: sync_mu_, then the database's lock.
//  2. Remote changes are taken from the ChangeLog while the lock is held, right after the
//     round trip that committed them, and reported after releasing it.
//  3. State: created --Shutdown()--> shut down. Shutdown cancels any sync, joins the
//     scheduler thread and waits for fieldbook_sync_run callers; afterwards no callback
//     of this session runs and every call fails.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "callback_transport.h"
#include "database.h"
#include "fieldbook/fieldbook.h"
#include "fieldbook/sync/client.h"
#include "mutex.h"
#include "sync_scheduler.h"

namespace fieldbook::platform {

struct SyncSessionOptions {
  std::string token;
  bool online = true;
  ScheduleConfig schedule;
  Millis request_timeout{60000};
  int page_limit = 2000;
};

// Parses fieldbook_sync_open's options JSON (empty means defaults).
Result<SyncSessionOptions> ParseSyncOptions(std::string_view json);

class SyncSession {
 public:
  static Result<std::shared_ptr<SyncSession>> Open(std::shared_ptr<Database> db, const SyncSessionOptions& options,
                                                   const fieldbook_sync_callbacks& callbacks,
                                                   SchedulerClock& clock = RealSchedulerClock());
  ~SyncSession();
  SyncSession(const SyncSession&) = delete;
  SyncSession& operator=(const SyncSession&) = delete;

  Status Start();
  Status Stop();
  Status SetOnline(bool online);
  Status SetToken(std::string token);
  Status Request();
  Result<sync::SyncReport> Run();
  // Writes blob `sha256` to `path`: from the device when it has it, else downloaded
  // through the app's transport (resumable, verified against the hash) and kept. The
  // answer is fieldbook_sync_fetch_blob's JSON.
  Result<std::string> FetchBlob(const std::string& sha256, const std::string& path);
  Result<std::string> StatusJson();

  // A local write was committed (from Database::Call).
  void LocalWrite();
  // See invariant 3. Idempotent. Must not run on the sync thread (OnSyncThread).
  void Shutdown();
  // True on the scheduler thread and on a thread inside Run().
  bool OnSyncThread() const;

 private:
  SyncSession(std::shared_ptr<Database> db, const SyncSessionOptions& options,
              const fieldbook_sync_callbacks& callbacks);
  Status CheckUsable() const;
  Status SyncOnce(const std::atomic<bool>& cancel, sync::SyncReport* report);
  void ReportState(SyncPhase phase, const Status& last_error);

  const std::shared_ptr<Database> db_;
  const fieldbook_sync_callbacks callbacks_;
  const int page_limit_;
  CallbackTransport transport_;
  std::unique_ptr<SyncScheduler> scheduler_;  // set once in Open

  Mutex sync_mu_;  // held for the whole of one sync
  std::atomic<std::thread::id> run_thread_{};  // the thread inside SyncOnce, if any
  std::atomic<bool> shut_down_{false};         // also cancels Run()

  Mutex mu_;
  std::string token_ FB_GUARDED_BY(mu_);
  std::optional<sync::SyncReport> last_report_ FB_GUARDED_BY(mu_);
};

// {"pushed": n, ...} as fieldbook_sync_run returns it.
std::string ReportJson(const sync::SyncReport& report);

}  // namespace fieldbook::platform
