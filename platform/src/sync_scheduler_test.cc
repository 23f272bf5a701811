#include "sync_scheduler.h"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

namespace fieldbook::platform {
namespace {

using namespace std::chrono_literals;

// A clock that moves only when the test says so. Waits poll it (1 ms of real time), so a
// scheduler thread notices an Advance within milliseconds, and nothing depends on how
// fast the machine is.
class ManualClock : public SchedulerClock {
 public:
  SchedulerTime Now() override {
    MutexLock lock(mu_);
    return now_;
  }
  void WaitUntil(Mutex& mu, CondVar& cv, std::optional<SchedulerTime> deadline) override {
    if (deadline && Now() >= *deadline) return;
    cv.wait_for(mu, 1ms);
  }
  void Advance(Millis d) {
    MutexLock lock(mu_);
    now_ += d;
  }
  Millis Elapsed() {
    MutexLock lock(mu_);
    return std::chrono::duration_cast<Millis>(now_ - SchedulerTime{});
  }

 private:
  Mutex mu_;
  SchedulerTime now_ FB_GUARDED_BY(mu_){};
};

// Waits (real time, bounded) until pred holds.
template <typename Pred>
bool Eventually(Pred pred, Millis limit = 10000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Records syncs (at their manual-clock time) and states; syncs return scripted results.
struct Recorder {
  ManualClock clock;
  Mutex mu;
  std::vector<Millis> syncs FB_GUARDED_BY(mu);
  std::vector<std::pair<SyncPhase, ErrorCode>> states FB_GUARDED_BY(mu);
  std::vector<Status> results FB_GUARDED_BY(mu);  // consumed front first; ok when empty
  bool block FB_GUARDED_BY(mu) = false;            // syncs wait for cancellation
  int wakes FB_GUARDED_BY(mu) = 0;

  SyncScheduler::Hooks Hooks() {
    SyncScheduler::Hooks h;
    h.sync = [this](const std::atomic<bool>& cancel) -> Status {
      bool blocking;
      Status result;
      {
        MutexLock lock(mu);
        syncs.push_back(clock.Elapsed());
        blocking = block;
        if (!results.empty()) {
          result = results.front();
          results.erase(results.begin());
        }
      }
      if (blocking) {
        while (!cancel.load()) std::this_thread::sleep_for(1ms);
        return Status(ErrorCode::kCancelled, "cancelled");
      }
      return result;
    };
    h.wake = [this] {
      MutexLock lock(mu);
      ++wakes;
    };
    h.on_state = [this](SyncPhase phase, const Status& error) {
      MutexLock lock(mu);
      states.emplace_back(phase, error.code());
    };
    return h;
  }
  size_t SyncCount() {
    MutexLock lock(mu);
    return syncs.size();
  }
  std::vector<Millis> Syncs() {
    MutexLock lock(mu);
    return syncs;
  }
  std::vector<std::pair<SyncPhase, ErrorCode>> States() {
    MutexLock lock(mu);
    return states;
  }
  bool LastStateIs(SyncPhase phase) {
    MutexLock lock(mu);
    return !states.empty() && states.back().first == phase;
  }
};

ScheduleConfig Config() {
  ScheduleConfig c;
  c.debounce = 2000ms;
  c.periodic = 60000ms;
  c.backoff_min = 1000ms;
  c.backoff_max = 8000ms;
  return c;
}

TEST_CASE("scheduler: syncs at start, then after the debounce of a local write") {
  Recorder r;
  SyncScheduler s(Config(), r.clock, [] { return uint64_t{0}; }, r.Hooks());
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return r.SyncCount() == 1 && r.LastStateIs(SyncPhase::kIdle); }));
  CHECK(s.Start().code() == ErrorCode::kAlreadyInitialized);

  s.LocalWrite();
  r.clock.Advance(1999ms);
  std::this_thread::sleep_for(20ms);
  CHECK(r.SyncCount() == 1);
  r.clock.Advance(1ms);
  REQUIRE(Eventually([&] { return r.SyncCount() == 2; }));
  CHECK(r.Syncs() == std::vector<Millis>{0ms, 2000ms});

  s.Stop();
  const auto states = r.States();
  REQUIRE(states.size() >= 5);
  CHECK(states.front().first == SyncPhase::kSyncing);
  CHECK(states.back().first == SyncPhase::kStopped);
  CHECK(s.GetStatus().phase == SyncPhase::kStopped);
}

TEST_CASE("scheduler: a failure backs off, reports the error, and the retry succeeds") {
  Recorder r;
  {
    MutexLock lock(r.mu);
    r.results = {Status(ErrorCode::kUnreachable, "no route"), Status(ErrorCode::kServerError, "502")};
  }
  SyncScheduler s(Config(), r.clock, [] { return uint64_t{0}; }, r.Hooks());  // delay = backoff_min
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return r.LastStateIs(SyncPhase::kBackingOff); }));
  SchedulerStatus status = s.GetStatus();
  CHECK(status.failures == 1);
  CHECK(status.last_error.code() == ErrorCode::kUnreachable);
  REQUIRE(status.next_sync_in);
  CHECK(*status.next_sync_in == 1000ms);

  r.clock.Advance(1000ms);
  REQUIRE(Eventually([&] { return r.SyncCount() == 2 && s.GetStatus().failures == 2; }));
  r.clock.Advance(1000ms);
  REQUIRE(Eventually([&] { return r.SyncCount() == 3 && r.LastStateIs(SyncPhase::kIdle); }));
  CHECK(s.GetStatus().failures == 0);
  CHECK(s.GetStatus().last_error.ok());
  s.Stop();

  // Each outcome was reported, with its error.
  std::vector<std::pair<SyncPhase, ErrorCode>> outcomes;
  for (const auto& st : r.States()) {
    if (st.first != SyncPhase::kSyncing) outcomes.push_back(st);
  }
  REQUIRE(outcomes.size() == 4);
  CHECK(outcomes[0] == std::make_pair(SyncPhase::kBackingOff, ErrorCode::kUnreachable));
  CHECK(outcomes[1] == std::make_pair(SyncPhase::kBackingOff, ErrorCode::kServerError));
  CHECK(outcomes[2] == std::make_pair(SyncPhase::kIdle, ErrorCode::kOk));
  CHECK(outcomes[3].first == SyncPhase::kStopped);
}

TEST_CASE("scheduler: offline it waits, connectivity regained syncs at once") {
  Recorder r;
  SyncScheduler s(Config(), r.clock, [] { return uint64_t{0}; }, r.Hooks(), /*online=*/false);
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return r.LastStateIs(SyncPhase::kOffline); }));
  s.LocalWrite();
  r.clock.Advance(120000ms);
  std::this_thread::sleep_for(20ms);
  CHECK(r.SyncCount() == 0);
  s.SetOnline(true);
  REQUIRE(Eventually([&] { return r.SyncCount() == 1 && r.LastStateIs(SyncPhase::kIdle); }));
  s.SetOnline(false);
  REQUIRE(Eventually([&] { return r.LastStateIs(SyncPhase::kOffline); }));
  s.Stop();
}

TEST_CASE("scheduler: syncs periodically, and on request") {
  Recorder r;
  SyncScheduler s(Config(), r.clock, [] { return uint64_t{0}; }, r.Hooks());
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return r.SyncCount() == 1; }));
  r.clock.Advance(60000ms);
  REQUIRE(Eventually([&] { return r.SyncCount() == 2; }));
  r.clock.Advance(10ms);
  s.Request();
  REQUIRE(Eventually([&] { return r.SyncCount() == 3; }));
  CHECK(r.Syncs() == std::vector<Millis>{0ms, 60000ms, 60010ms});
  s.Stop();
}

TEST_CASE("scheduler: stop cancels the sync in flight and joins, it can start again") {
  Recorder r;
  {
    MutexLock lock(r.mu);
    r.block = true;
  }
  SyncScheduler s(Config(), r.clock, [] { return uint64_t{0}; }, r.Hooks());
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return r.LastStateIs(SyncPhase::kSyncing); }));
  const auto before = std::chrono::steady_clock::now();
  s.Stop();
  CHECK(std::chrono::steady_clock::now() - before < 5s);
  CHECK(r.LastStateIs(SyncPhase::kStopped));
  {
    MutexLock lock(r.mu);
    CHECK(r.wakes == 1);
  }
  // A cancelled sync is not a failure.
  CHECK(s.GetStatus().failures == 0);
  s.Stop();  // idempotent
  {
    MutexLock lock(r.mu);
    r.block = false;
  }
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return r.SyncCount() == 2 && r.LastStateIs(SyncPhase::kIdle); }));
  s.Stop();
}

TEST_CASE("scheduler: a state callback may use the scheduler, and Stop from it is refused") {
  ManualClock clock;
  SyncScheduler* self = nullptr;
  std::atomic<int> requests{0};
  std::atomic<bool> restart_refused{false};
  SyncScheduler::Hooks h;
  h.on_state = [&](SyncPhase phase, const Status&) {
    if (phase == SyncPhase::kIdle && requests.load() == 0) {
      ++requests;
      self->Request();  // re-entering takes the scheduler's lock: not held during callbacks
      self->Stop();     // on its own thread: does nothing rather than deadlock
      restart_refused = self->Start().code() == ErrorCode::kAlreadyInitialized;
    }
  };
  std::atomic<int> syncs{0};
  h.sync = [&](const std::atomic<bool>&) {
    ++syncs;
    return Status::Ok();
  };
  SyncScheduler s(Config(), clock, [] { return uint64_t{0}; }, h);
  self = &s;
  REQUIRE(s.Start().ok());
  REQUIRE(Eventually([&] { return s.GetStatus().phase == SyncPhase::kIdle && requests.load() == 1; }));
  REQUIRE(Eventually([&] { return syncs.load() >= 2; }));
  CHECK(restart_refused);
  s.Stop();
}

}  // namespace
}  // namespace fieldbook::platform
