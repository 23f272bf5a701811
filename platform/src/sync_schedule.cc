#include "sync_schedule.h"

#include <algorithm>

namespace fieldbook::platform {
namespace {

void Earliest(std::optional<SchedulerTime>& out, const std::optional<SchedulerTime>& t) {
  if (t && (!out || *t < *out)) out = t;
}

}  // namespace

const char* SyncPhaseName(SyncPhase phase) {
  switch (phase) {
    case SyncPhase::kIdle: return "idle";
    case SyncPhase::kSyncing: return "syncing";
    case SyncPhase::kBackingOff: return "backing_off";
    case SyncPhase::kOffline: return "offline";
    case SyncPhase::kStopped: return "stopped";
  }
  return "unknown";
}

SyncSchedule::SyncSchedule(ScheduleConfig config, std::function<uint64_t()> random)
    : config_(config), random_(std::move(random)) {}

void SyncSchedule::Start(SchedulerTime now) {
  request_due_ = now;
  retry_due_.reset();
}

void SyncSchedule::LocalWrite(SchedulerTime now) { write_due_ = now + config_.debounce; }

void SyncSchedule::Request(SchedulerTime now) {
  request_due_ = now;
  retry_due_.reset();  // the backoff does not hold back an explicit request
}

void SyncSchedule::SetOnline(bool online, SchedulerTime now) {
  if (online && !online_) {
    // The failures were most likely the missing connection: start afresh, at once.
    failures_ = 0;
    retry_due_.reset();
    request_due_ = now;
  }
  online_ = online;
}

void SyncSchedule::SyncStarted(SchedulerTime /*now*/) {
  write_due_.reset();
  request_due_.reset();
  retry_due_.reset();
}

void SyncSchedule::SyncSucceeded(SchedulerTime now) {
  failures_ = 0;
  retry_due_.reset();
  if (config_.periodic.count() > 0) {
    periodic_due_ = now + config_.periodic;
  } else {
    periodic_due_.reset();
  }
}

void SyncSchedule::SyncFailed(SchedulerTime now) {
  failures_ = std::min(failures_ + 1, 1 << 20);
  retry_due_ = now + BackoffDelay(failures_);
}

Millis SyncSchedule::BackoffDelay(int n) {
  const int64_t min = std::max<int64_t>(0, config_.backoff_min.count());
  const int64_t max = std::max<int64_t>(min, config_.backoff_max.count());
  int64_t ceiling = min;
  for (int i = 0; i < n && ceiling < max; ++i) ceiling = ceiling == 0 ? 0 : std::min(max, ceiling * 2);
  const uint64_t span = static_cast<uint64_t>(ceiling - min) + 1;
  return Millis(min + static_cast<int64_t>(random_() % span));
}

std::optional<SchedulerTime> SyncSchedule::NextSync() const {
  if (!online_) return std::nullopt;
  std::optional<SchedulerTime> due;
  Earliest(due, write_due_);
  Earliest(due, request_due_);
  Earliest(due, periodic_due_);
  // Backing off: the retry is due, and nothing earlier (a request or reconnection would
  // have cleared it).
  if (retry_due_) return retry_due_;
  return due;
}

SyncPhase SyncSchedule::Phase() const {
  if (!online_) return SyncPhase::kOffline;
  if (failures_ > 0) return SyncPhase::kBackingOff;
  return SyncPhase::kIdle;
}

}  // namespace fieldbook::platform
