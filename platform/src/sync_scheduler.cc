#include "sync_scheduler.h"

namespace fieldbook::platform {
namespace {

class RealClock : public SchedulerClock {
 public:
  SchedulerTime Now() override { return std::chrono::steady_clock::now(); }
  void WaitUntil(Mutex& mu, CondVar& cv, std::optional<SchedulerTime> deadline) override {
    if (deadline) {
      cv.wait_until(mu, *deadline);
    } else {
      cv.wait(mu);
    }
  }
};

}  // namespace

SchedulerClock& RealSchedulerClock() {
  static RealClock clock;
  return clock;
}

SyncScheduler::SyncScheduler(ScheduleConfig config, SchedulerClock& clock, std::function<uint64_t()> random,
                             Hooks hooks, bool online)
    : clock_(clock), hooks_(std::move(hooks)), schedule_(config, std::move(random)) {
  MutexLock lock(mu_);
  schedule_.SetOnline(online, clock_.Now());
}

SyncScheduler::~SyncScheduler() { Stop(); }

Status SyncScheduler::Start() {
  if (OnSchedulerThread()) return Status(ErrorCode::kAlreadyInitialized, "the sync scheduler is already running");
  MutexLock lifecycle(lifecycle_mu_);
  {
    MutexLock lock(mu_);
    if (running_) return Status(ErrorCode::kAlreadyInitialized, "the sync scheduler is already running");
    running_ = true;
    stop_ = false;
    reported_.reset();
  }
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (...) {
    MutexLock lock(mu_);
    running_ = false;
    throw;
  }
  return Status::Ok();
}

void SyncScheduler::Stop() {
  if (OnSchedulerThread()) return;  // joining itself would deadlock; callers refuse this earlier
  MutexLock lifecycle(lifecycle_mu_);
  {
    MutexLock lock(mu_);
    if (!running_) return;
    stop_ = true;
    cancel_.store(true);
    cv_.notify_all();
  }
  if (hooks_.wake) hooks_.wake();
  if (thread_.joinable()) thread_.join();
  MutexLock lock(mu_);
  running_ = false;
  stop_ = false;
  cancel_.store(false);
}

void SyncScheduler::LocalWrite() {
  MutexLock lock(mu_);
  schedule_.LocalWrite(clock_.Now());
  cv_.notify_all();
}

void SyncScheduler::Request() {
  MutexLock lock(mu_);
  schedule_.Request(clock_.Now());
  cv_.notify_all();
}

void SyncScheduler::SetOnline(bool online) {
  MutexLock lock(mu_);
  schedule_.SetOnline(online, clock_.Now());
  cv_.notify_all();
}

void SyncScheduler::RetryIfBackingOff() {
  MutexLock lock(mu_);
  if (schedule_.failures() > 0) schedule_.Request(clock_.Now());
  cv_.notify_all();
}

bool SyncScheduler::running() {
  MutexLock lock(mu_);
  return running_;
}

SchedulerStatus SyncScheduler::GetStatus() {
  MutexLock lock(mu_);
  SchedulerStatus s;
  s.online = schedule_.online();
  s.failures = schedule_.failures();
  s.last_error = last_error_;
  if (!running_) {
    s.phase = SyncPhase::kStopped;
  } else if (syncing_) {
    s.phase = SyncPhase::kSyncing;
  } else {
    s.phase = schedule_.Phase();
    if (auto next = schedule_.NextSync()) {
      s.next_sync_in = std::max(Millis(0), std::chrono::duration_cast<Millis>(*next - clock_.Now()));
    }
  }
  return s;
}

void SyncScheduler::Emit(SyncPhase phase, const Status& last_error) {
  if (reported_ == phase) return;
  reported_ = phase;
  if (!hooks_.on_state) return;
  const Status error = last_error;
  mu_.unlock();
  hooks_.on_state(phase, error);
  mu_.lock();
}

void SyncScheduler::Run() {
  thread_id_.store(std::this_thread::get_id());
  MutexLock lock(mu_);
  schedule_.Start(clock_.Now());
  while (!stop_) {
    const SchedulerTime now = clock_.Now();
    const std::optional<SchedulerTime> next = schedule_.NextSync();
    if (!next || *next > now) {
      Emit(schedule_.Phase(), last_error_);
      if (stop_) break;
      // Re-read: the state may have changed while the callback ran.
      const auto due = schedule_.NextSync();
      if (!due || *due > clock_.Now()) clock_.WaitUntil(mu_, cv_, due);
      continue;
    }
    schedule_.SyncStarted(now);
    syncing_ = true;
    Emit(SyncPhase::kSyncing, last_error_);
    Status result;
    mu_.unlock();
    try {
      result = hooks_.sync(cancel_);
    } catch (const std::exception& e) {
      result = Status(ErrorCode::kInternal, std::string("sync failed: ") + e.what());
    } catch (...) {
      result = Status(ErrorCode::kInternal, "sync failed with an unknown exception");
    }
    mu_.lock();
    syncing_ = false;
    if (stop_) break;  // cancelled: neither a success nor a failure
    if (result.ok()) {
      schedule_.SyncSucceeded(clock_.Now());
    } else {
      schedule_.SyncFailed(clock_.Now());
    }
    last_error_ = result;
    reported_.reset();  // every sync's outcome is reported
    Emit(schedule_.Phase(), last_error_);
  }
  reported_.reset();
  Emit(SyncPhase::kStopped, last_error_);
  thread_id_.store(std::thread::id());
}

}  // namespace fieldbook::platform
