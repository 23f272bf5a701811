// Customer operation across two devices: occasions are computed from synced rows, so
// after a sync both devices list the same occasions with the same ids; rows both devices
// derive from the same facts (a lifecycle step, a team's settings, an override) stay one.
#include <catch2/catch.hpp>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "fieldbook/core/operation_calendar.h"
#include "fieldbook/core/operation_kanban.h"
#include "fieldbook/core/relations.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

std::string CalendarOf(TestDevice& d) {
  CalendarQuery q;
  q.from = Date{2026, 1, 1};
  q.to = Date{2026, 12, 31};
  q.today = Date{2026, 6, 1};
  auto lunar = MakeLunarCalendar();
  auto r = ServiceCalendar(*d.store, q, *lunar);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return CalendarJson(*r);
}

int64_t Count(TestDevice& d, const std::string& sql) {
  auto st = d.store->Prepare(sql);
  REQUIRE(st.ok());
  auto row = st->Step();
  REQUIRE(row.ok());
  return st->Int(0);
}

}  // namespace

// The team's settings are written by its lead (the server refuses them from agents), so
// both devices here are the lead's phone and tablet.
TEST_CASE("operation: two devices list the same occasions after sync and derived rows never double",
          "[sync][operation]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "lead-1", "team-1");
  TestDevice b(dir.File("b.db"), "lead-1", "team-1");
  REQUIRE(SetProfileRole(*a.store, "lead").ok());
  REQUIRE(SetProfileRole(*b.store, "lead").ok());
  const std::string token = server.Token("lead-1", "team-1", server::Role::kLead);

  auto c = a.archive->Add("customers", R"({"kind":"person","name":"张三","birth_date":"1990-10-03","lunar_birthday":true,"team":"team-1"})");
  REQUIRE(c.ok());
  REQUIRE(a.archive->Add("consents", R"({"purpose":"marketing","granted":true,"channel":"app","recorded_at":1})", *c).ok());
  REQUIRE(a.archive->Add("policies",
                         R"({"policy_number":"P-1","product":"寿险","effective_date":"2024-02-29","premium":100000,"payment_frequency":"quarterly"})",
                         *c).ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  const std::string before = CalendarOf(a);
  CHECK(before == CalendarOf(b));

  // Offline, both devices configure the team, override the same field and advance the
  // lifecycle on the same day.
  REQUIRE(SaveOperationConfig(*a.archive, "team-1", R"({"grace_days":30})").ok());
  REQUIRE(SaveOperationConfig(*b.archive, "team-1", R"({"claim_follow_days":5})").ok());
  REQUIRE(OverrideClassification(*a.archive, *c, "value_tier", "high", "a").ok());
  REQUIRE(OverrideClassification(*b.archive, *c, "value_tier", "high", "b").ok());
  const Date day{2026, 6, 1};
  auto sa = AdvanceLifecycle(*a.archive, *c, day);
  auto sb = AdvanceLifecycle(*b.archive, *c, day);
  REQUIRE(sa.ok());
  REQUIRE(sb.ok());
  REQUIRE(sa->size() == 1);
  CHECK(sa->at(0).id == sb->at(0).id);

  for (int round = 0; round < 2; ++round) {
    for (TestDevice* d : {&a, &b}) {
      auto synced = d->Sync(*server.transport, token);
      INFO(synced.status().ToString());
      REQUIRE(synced.ok());
    }
  }
  CHECK(a.Export() == b.Export());
  for (TestDevice* d : {&a, &b}) {
    CHECK(Count(*d, "SELECT COUNT(*) FROM operation_config") == 1);
    CHECK(Count(*d, "SELECT COUNT(*) FROM classification_overrides") == 1);
    CHECK(Count(*d, "SELECT COUNT(*) FROM lifecycle_events") == 1);
  }
  auto config = LoadOperationConfig(*b.store, "team-1");
  REQUIRE(config.ok());
  CHECK(config->grace_days == 30);         // both edits kept: different fields merge
  CHECK(config->claim_follow_days == 5);
  const std::string after = CalendarOf(a);
  CHECK(after == CalendarOf(b));
  CHECK(after != before);  // the grace period changed the premium occasions' detail

  // An agent of the team receives the lead's settings and lists the same occasions for
  // the customers it holds.
  TestDevice agent(dir.File("agent.db"), "agent-2", "team-1");
  auto synced = agent.Sync(*server.transport, server.Token("agent-2", "team-1"));
  INFO(synced.status().ToString());
  REQUIRE(synced.ok());
  auto seen = LoadOperationConfig(*agent.store, "team-1");
  REQUIRE(seen.ok());
  CHECK(seen->stored);
  CHECK(seen->grace_days == 30);
  KanbanQuery q;
  q.period = KanbanPeriod::kMonth;
  q.date = day;
  q.team = true;
  CHECK(KanbanJson(BuildKanban(*a.store, q).value()) == KanbanJson(BuildKanban(*b.store, q).value()));
}
