// SyncSchedule: when to sync next. Pure bookkeeping over a clock value the caller passes
// in; no threads, no waiting, so tests drive it deterministically.
//
// Reasons to sync, each a due time (the earliest one wins):
//   write     debounce after the latest local write (each write moves it later);
//   request   now: started, asked explicitly, or connectivity came back;
//   periodic  `periodic` after the latest success;
//   retry     after a failure, a backoff delay.
// While backing off (failures > 0) no sync starts before the retry time, except an
// explicit request, a (re)start, or connectivity coming back (which also forgets the
// backoff).
// Offline: nothing is due until online again.
//
// Backoff: after the n-th failure in a row the delay is drawn uniformly from
// [backoff_min, min(backoff_max, backoff_min * 2^n)]: full jitter above a floor, so
// devices that failed together spread out and a failing server is never hammered.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace fieldbook::platform {

using SchedulerTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

struct ScheduleConfig {
  Millis debounce{2000};
  Millis periodic{15 * 60 * 1000};  // 0: no periodic sync
  Millis backoff_min{1000};
  Millis backoff_max{5 * 60 * 1000};
};

enum class SyncPhase { kIdle = 0, kSyncing = 1, kBackingOff = 2, kOffline = 3, kStopped = 4 };
const char* SyncPhaseName(SyncPhase phase);

class SyncSchedule {
 public:
  // `random` returns uniformly distributed 64-bit values (the jitter).
  SyncSchedule(ScheduleConfig config, std::function<uint64_t()> random);

  void Start(SchedulerTime now);  // syncs at once (when online)
  void LocalWrite(SchedulerTime now);
  void Request(SchedulerTime now);
  void SetOnline(bool online, SchedulerTime now);
  // A sync begins: the reasons it serves are cleared (writes made during it set a new one).
  void SyncStarted(SchedulerTime now);
  // A sync ended. A cancelled sync is neither: call nothing.
  void SyncSucceeded(SchedulerTime now);
  void SyncFailed(SchedulerTime now);

  // When the next sync is due; nullopt when offline or nothing is due.
  std::optional<SchedulerTime> NextSync() const;
  // kOffline, kBackingOff or kIdle (the runner adds kSyncing and kStopped).
  SyncPhase Phase() const;
  int failures() const { return failures_; }
  bool online() const { return online_; }

  // The n-th consecutive failure's delay (n >= 1), drawing from random.
  Millis BackoffDelay(int n);

  const ScheduleConfig& config() const { return config_; }

 private:
  const ScheduleConfig config_;
  std::function<uint64_t()> random_;
  bool online_ = true;
  int failures_ = 0;
  std::optional<SchedulerTime> write_due_;
  std::optional<SchedulerTime> request_due_;
  std::optional<SchedulerTime> periodic_due_;
  std::optional<SchedulerTime> retry_due_;
};

}  // namespace fieldbook::platform
