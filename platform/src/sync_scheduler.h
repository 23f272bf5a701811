// SyncScheduler: the thread that runs syncs when the SyncSchedule says so.
//
// States (reported through on_state, always from the scheduler thread, never with a lock
// held):
//   stopped --Start()--> idle | offline          (thread starts; a sync is due at once)
//   idle/backing_off --due--> syncing --ok--> idle
//                                     --failed--> backing_off (last_error set)
//   any --SetOnline(false)--> offline --SetOnline(true)--> syncing at once
//   any --Stop()--> stopped  (cancels a sync in flight, joins the thread)
// After every sync the state is reported even when unchanged, so each failure is seen.
//
// Invariants:
//  1. At most one sync runs at a time, on the scheduler thread; mu_ is never held while
//     it runs or while a callback runs.
//  2. Stop sets the cancel flag before waking anyone, and the sync function checks it
//     between round trips and while waiting on the network, so Stop returns promptly.
//  3. Time comes from a SchedulerClock: tests use a manual one and stay deterministic.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <thread>

#include "fieldbook/core/status.h"
#include "mutex.h"
#include "sync_schedule.h"

namespace fieldbook::platform {

class SchedulerClock {
 public:
  virtual ~SchedulerClock() = default;
  virtual SchedulerTime Now() = 0;
  // Blocks until `cv` is notified or `deadline` passes (nullopt: no deadline); it may
  // return early. Called with `mu` held, returns with it held.
  virtual void WaitUntil(Mutex& mu, CondVar& cv, std::optional<SchedulerTime> deadline) = 0;
};

// steady_clock and real waits.
SchedulerClock& RealSchedulerClock();

struct SchedulerStatus {
  SyncPhase phase = SyncPhase::kStopped;
  bool online = true;
  int failures = 0;
  Status last_error;  // ok when the latest sync succeeded or none ran
  std::optional<Millis> next_sync_in;
};

class SyncScheduler {
 public:
  struct Hooks {
    // Runs one sync; returns when done, failed, or cancelled (the flag is set).
    std::function<Status(const std::atomic<bool>& cancel)> sync;
    // Called by Stop after setting the cancel flag, to wake a sync waiting on the network.
    std::function<void()> wake;
    std::function<void(SyncPhase phase, const Status& last_error)> on_state;
  };

  SyncScheduler(ScheduleConfig config, SchedulerClock& clock, std::function<uint64_t()> random, Hooks hooks,
                bool online = true);
  ~SyncScheduler();  // Stop()
  SyncScheduler(const SyncScheduler&) = delete;
  SyncScheduler& operator=(const SyncScheduler&) = delete;

  // kAlreadyInitialized when running.
  Status Start() FB_EXCLUDES(mu_);
  // Idempotent. Must not be called from the scheduler thread (a callback).
  void Stop() FB_EXCLUDES(mu_);

  void LocalWrite() FB_EXCLUDES(mu_);
  void Request() FB_EXCLUDES(mu_);
  void SetOnline(bool online) FB_EXCLUDES(mu_);
  // A request when backing off (new credentials may fix the failure), else nothing.
  void RetryIfBackingOff() FB_EXCLUDES(mu_);

  SchedulerStatus GetStatus() FB_EXCLUDES(mu_);
  bool running() FB_EXCLUDES(mu_);
  bool OnSchedulerThread() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  // Both release mu_ around the sync and the callbacks (invariant 1), which the static
  // analysis cannot follow.
  void Run() FB_NO_THREAD_SAFETY_ANALYSIS;
  void Emit(SyncPhase phase, const Status& last_error) FB_REQUIRES(mu_) FB_NO_THREAD_SAFETY_ANALYSIS;

  SchedulerClock& clock_;
  const Hooks hooks_;

  Mutex mu_;
  CondVar cv_;
  SyncSchedule schedule_ FB_GUARDED_BY(mu_);
  bool running_ FB_GUARDED_BY(mu_) = false;
  bool stop_ FB_GUARDED_BY(mu_) = false;
  bool syncing_ FB_GUARDED_BY(mu_) = false;
  Status last_error_ FB_GUARDED_BY(mu_);
  std::optional<SyncPhase> reported_ FB_GUARDED_BY(mu_);  // last phase given to on_state
  std::atomic<bool> cancel_{false};
  std::thread thread_;  // touched only by Start and Stop, which stop_/running_ serialise
  std::atomic<std::thread::id> thread_id_{};
  Mutex lifecycle_mu_;  // serialises Start and Stop
};

}  // namespace fieldbook::platform
