#include "sync_schedule.h"

#include <catch2/catch.hpp>

#include <random>

namespace fieldbook::platform {
namespace {

using namespace std::chrono_literals;

const SchedulerTime t0{};  // the epoch of steady_clock: any fixed point works

ScheduleConfig Config() {
  ScheduleConfig c;
  c.debounce = 2000ms;
  c.periodic = 60000ms;
  c.backoff_min = 1000ms;
  c.backoff_max = 30000ms;
  return c;
}

// A "random" source returning the given value every time.
std::function<uint64_t()> Always(uint64_t v) {
  return [v] { return v; };
}

TEST_CASE("schedule: a started scheduler syncs at once, then waits for a reason") {
  SyncSchedule s(Config(), Always(0));
  CHECK_FALSE(s.NextSync());
  s.Start(t0);
  REQUIRE(s.NextSync() == t0);
  s.SyncStarted(t0);
  s.SyncSucceeded(t0 + 100ms);
  CHECK(s.NextSync() == t0 + 100ms + 60000ms);  // only the periodic sync is due
  CHECK(s.Phase() == SyncPhase::kIdle);
}

TEST_CASE("schedule: local writes are debounced, each write moving the sync later") {
  SyncSchedule s(Config(), Always(0));
  s.LocalWrite(t0);
  CHECK(s.NextSync() == t0 + 2000ms);
  s.LocalWrite(t0 + 1500ms);
  CHECK(s.NextSync() == t0 + 3500ms);
  s.SyncStarted(t0 + 3500ms);
  CHECK_FALSE(s.NextSync());
  // A write during the sync schedules another one.
  s.LocalWrite(t0 + 3600ms);
  s.SyncSucceeded(t0 + 4000ms);
  CHECK(s.NextSync() == t0 + 5600ms);
}

TEST_CASE("schedule: no periodic sync when the period is 0") {
  ScheduleConfig c = Config();
  c.periodic = 0ms;
  SyncSchedule s(c, Always(0));
  s.Start(t0);
  s.SyncStarted(t0);
  s.SyncSucceeded(t0);
  CHECK_FALSE(s.NextSync());
}

TEST_CASE("schedule: failures back off exponentially up to the maximum") {
  const uint64_t draw = 0x9E3779B97F4A7C15ull;
  SyncSchedule s(Config(), Always(draw));
  SchedulerTime now = t0;
  s.Start(now);
  // The n-th failure draws from [1 s, min(30 s, 1 s * 2^n)].
  for (int64_t ceiling : {2000, 4000, 8000, 16000, 30000, 30000}) {
    s.SyncStarted(now);
    s.SyncFailed(now);
    CHECK(s.Phase() == SyncPhase::kBackingOff);
    const auto next = s.NextSync();
    REQUIRE(next);
    const int64_t expected = 1000 + static_cast<int64_t>(draw % static_cast<uint64_t>(ceiling - 1000 + 1));
    CHECK(std::chrono::duration_cast<Millis>(*next - now).count() == expected);
    now = *next;
  }
  CHECK(s.failures() == 6);
  s.SyncStarted(now);
  s.SyncSucceeded(now);
  CHECK(s.failures() == 0);
  CHECK(s.Phase() == SyncPhase::kIdle);
}

TEST_CASE("schedule: backoff delays are drawn from [min, min * 2^n] with full jitter") {
  std::mt19937_64 rng(42);
  SyncSchedule s(Config(), [&] { return rng(); });
  for (int n = 1; n <= 8; ++n) {
    const int64_t ceiling = std::min<int64_t>(30000, 1000LL << n);
    int64_t lowest = ceiling, highest = 0;
    for (int i = 0; i < 2000; ++i) {
      const int64_t d = s.BackoffDelay(n).count();
      REQUIRE(d >= 1000);
      REQUIRE(d <= ceiling);
      lowest = std::min(lowest, d);
      highest = std::max(highest, d);
    }
    // Spread over the whole range, not bunched at one end.
    CHECK(lowest < 1000 + (ceiling - 1000) / 10 + 1);
    CHECK(highest > ceiling - (ceiling - 1000) / 10 - 1);
  }
  CHECK(s.BackoffDelay(1000).count() <= 30000);  // no overflow for long failure streaks
}

TEST_CASE("schedule: writes while backing off wait for the retry, a request does not") {
  SyncSchedule s(Config(), Always(0));  // delay = backoff_min
  s.Start(t0);
  s.SyncStarted(t0);
  s.SyncFailed(t0);
  CHECK(s.NextSync() == t0 + 1000ms);
  s.LocalWrite(t0 + 10ms);  // due at 2010 ms: later than the retry, unchanged
  CHECK(s.NextSync() == t0 + 1000ms);
  s.SyncStarted(t0 + 1000ms);
  s.SyncFailed(t0 + 1000ms);
  s.LocalWrite(t0 + 1001ms);  // debounced to 3001, retry at 2000 + jitter 0 = 2000
  CHECK(s.NextSync() == t0 + 2000ms);
  s.Request(t0 + 1100ms);
  CHECK(s.NextSync() == t0 + 1100ms);
  CHECK(s.failures() == 2);  // a request does not forget the failures
}

TEST_CASE("schedule: offline nothing is due, back online it syncs at once and forgets the backoff") {
  SyncSchedule s(Config(), Always(0));
  s.Start(t0);
  s.SyncStarted(t0);
  s.SyncFailed(t0);
  s.SetOnline(false, t0 + 10ms);
  CHECK(s.Phase() == SyncPhase::kOffline);
  s.LocalWrite(t0 + 20ms);
  CHECK_FALSE(s.NextSync());
  s.SetOnline(true, t0 + 500ms);
  CHECK(s.NextSync() == t0 + 500ms);
  CHECK(s.failures() == 0);
  CHECK(s.Phase() == SyncPhase::kIdle);
  // Saying "online" again changes nothing.
  s.SyncStarted(t0 + 500ms);
  s.SyncSucceeded(t0 + 600ms);
  s.SetOnline(true, t0 + 700ms);
  CHECK(s.NextSync() == t0 + 600ms + 60000ms);
}

TEST_CASE("schedule: phase names are the C API's") {
  CHECK(std::string(SyncPhaseName(SyncPhase::kIdle)) == "idle");
  CHECK(std::string(SyncPhaseName(SyncPhase::kSyncing)) == "syncing");
  CHECK(std::string(SyncPhaseName(SyncPhase::kBackingOff)) == "backing_off");
  CHECK(std::string(SyncPhaseName(SyncPhase::kOffline)) == "offline");
  CHECK(std::string(SyncPhaseName(SyncPhase::kStopped)) == "stopped");
}

}  // namespace
}  // namespace fieldbook::platform
