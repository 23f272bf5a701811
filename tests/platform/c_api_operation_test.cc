// Customer operation through the C API: calendar.today, calendar.range, kanban,
// classify, lifecycle, the team's settings, quotas and holidays, JSON in and out.
#include <string>

#include "c_api_fixture.h"
#include "support/test_support.h"

using namespace fieldbook::testing;

namespace {

std::string Str(const rapidjson::Value& v) { return v.IsString() ? v.GetString() : std::string(); }

}  // namespace

TEST_CASE("c api: the operation methods are in the method table") {
  TempDir dir;
  Db db(dir.File("a.db"));
  const std::string methods = db.Call("methods");
  for (const char* m : {"calendar.today", "calendar.range", "kanban", "classify", "classify.set", "lifecycle",
                        "lifecycle.advance", "lifecycle.move", "operation.config", "operation.config.set", "quota",
                        "quota.set", "holiday.add"}) {
    CHECK(methods.find(std::string("\"") + m + "\"") != std::string::npos);
  }
}

TEST_CASE("c api: calendar.range and calendar.today list occasions with stable ids; consent governs marketing") {
  TempDir dir;
  Db db(dir.File("a.db"));
  const std::string a = db.AddCustomer(R"({"kind":"person","name":"张三","birth_date":"1990-10-03","lunar_birthday":true})");
  const std::string b = db.AddCustomer(R"({"kind":"person","name":"李四","birth_date":"1990-10-03","lunar_birthday":true})");
  db.Call("consent.add", R"({"customer_id":")" + a +
                             R"(","purpose":"marketing","granted":true,"channel":"app","recorded_at":1})");
  db.Call("policy.add", R"({"customer_id":")" + b +
                            R"(","policy_number":"P-1","product":"寿险","effective_date":"2024-02-29","premium":100000,"payment_frequency":"monthly"})");
  auto range = Parse(db.Call("calendar.range", R"({"from":"2026-09-01","to":"2026-09-30"})"));
  REQUIRE(range["occasions"].IsArray());
  int birthdays_a = 0, birthdays_b = 0, dues_b = 0;
  for (const auto& o : range["occasions"].GetArray()) {
    const std::string kind = Str(o["kind"]), customer = Str(o["customer_id"]);
    if (kind == "birthday" && customer == a) {
      ++birthdays_a;
      CHECK(Str(o["date"]) == "2026-09-25");
    }
    if (kind == "birthday" && customer == b) ++birthdays_b;
    if (kind == "premium_due" && customer == b) {
      ++dues_b;
      CHECK(Str(o["date"]) == "2026-09-29");
    }
  }
  if (range["lunar_available"].GetBool()) CHECK(birthdays_a == 1);
  CHECK(birthdays_b == 0);
  CHECK(dues_b == 1);
  CHECK(db.Call("calendar.range", R"({"from":"2026-09-01","to":"2026-09-30"})") ==
        db.Call("calendar.range", R"({"from":"2026-09-01","to":"2026-09-30"})"));
  auto today = Parse(db.Call("calendar.today", R"({"date":"2026-09-25"})"));
  CHECK(Str(today["from"]) == "2026-09-25");
  CHECK(Str(today["to"]) == "2026-09-25");

  Error e = db.Fail("calendar.range", R"({"from":"2026-09-01"})");
  CHECK(e.Field() == "to");
  e = db.Fail("calendar.range", R"({"from":"2026-09-31","to":"2026-10-01"})");
  CHECK(e.Field() == "from");
  e = db.Fail("calendar.today", R"({"day":"2026-09-25"})");
  CHECK(e.Field() == "day");
}

TEST_CASE("c api: kanban per agent and team, with quotas") {
  TempDir dir;
  Db db(dir.File("a.db"));
  db.Call("task.add", R"({"title":"call","due_date":"2026-03-02","done":true})");
  db.Call("task.add", R"({"title":"visit","due_date":"2026-03-03"})");
  db.Call("quota.set", R"({"visits_per_day":2,"calls_per_day":8})");
  auto k = Parse(db.Call("kanban", R"({"period":"week","date":"2026-03-04"})"));
  CHECK(Str(k["from"]) == "2026-03-02");
  REQUIRE(k["agents"].Size() == 1);
  const auto& a = k["agents"][0];
  CHECK(Str(a["agent"]) == "agent-1");
  CHECK(a["tasks"]["planned"].GetInt() == 2);
  CHECK(a["tasks"]["overdue"].GetInt() == 1);
  CHECK(a["quotas"]["visits"]["target"].GetInt() == 10);
  CHECK(a["quotas"]["calls"]["target"].GetInt() == 40);
  CHECK(a["contacts"]["achievement_rate"].GetDouble() == Approx(0.5));
  auto team = Parse(db.Call("kanban", R"({"period":"month","date":"2026-03-04","team":true})"));
  CHECK(team["team"].GetBool());
  CHECK(Str(team["total"]["agent"]) == "*");
  CHECK(db.Fail("kanban", R"({"period":"year"})").Field() == "period");
  CHECK(db.Fail("quota.set", R"({"visits_per_day":-2})").Field() == "visits_per_day");
}

TEST_CASE("c api: classify, override, lifecycle and the team's settings") {
  TempDir dir;
  // Team settings and holidays are not an agent's to change: an admin's profile.
  Db db(dir.File("a.db"), R"({"agent":"agent-1","team":"team-1","role":"admin"})");
  const std::string c = db.AddCustomer(R"({"kind":"person","name":"王五","occupation":"教师"})");
  auto one = Parse(db.Call("classify", R"({"customer_id":")" + c + R"(","date":"2026-06-01"})"));
  CHECK(Str(one["needs_segment"]) == "professional");
  CHECK(Str(one["value_tier"]) == "low");
  CHECK(Str(one["status"]) == "prospect");
  one = Parse(db.Call("classify.set", R"({"customer_id":")" + c + R"(","needs_segment":"family","reason":"两个孩子"})"));
  CHECK(Str(one["needs_segment"]) == "family");
  CHECK(Str(one["segment_override"]) == "family");
  auto all = Parse(db.Call("classify", R"({"all":true,"date":"2026-06-01"})"));
  REQUIRE(all.Size() == 1);
  CHECK(Str(all[0]["needs_segment"]) == "family");
  CHECK(db.Fail("classify.set", R"({"customer_id":")" + c + R"(","value_tier":"gold"})").Field() == "value_tier");

  db.Call("policy.add", R"({"customer_id":")" + c +
                            R"(","policy_number":"P-2","product":"重疾","effective_date":"2026-01-01","premium":300000,"payment_frequency":"annual"})");
  auto steps = Parse(db.Call("lifecycle.advance", R"({"customer_id":")" + c + R"("})"));
  REQUIRE(steps.Size() == 1);
  CHECK(Str(steps[0]["to_stage"]) == "first_deal");
  auto moved = Parse(db.Call("lifecycle.move", R"({"customer_id":")" + c + R"(","stage":"mature","reason":"手动"})"));
  CHECK(Str(moved[0]["reason"]) == "manual");
  auto history = Parse(db.Call("lifecycle", R"({"customer_id":")" + c + R"("})"));
  CHECK(history.Size() == 2);
  CHECK(db.Fail("lifecycle.move", R"({"customer_id":")" + c + R"(","stage":"gone"})").Field() == "stage");

  auto config = Parse(db.Call("operation.config"));
  CHECK(config["grace_days"].GetInt() == 60);
  CHECK(!config["stored"].GetBool());
  config = Parse(db.Call("operation.config.set", R"({"grace_days":45,"strategies":{"tiers":{"low":{"revisit_days":120}}}})"));
  CHECK(config["grace_days"].GetInt() == 45);
  CHECK(config["strategies"]["tiers"]["low"]["revisit_days"].GetInt() == 120);
  CHECK(db.Fail("operation.config.set", R"({"grace":45})").Field() == "grace");
  CHECK(Parse(db.Call("operation.config"))["grace_days"].GetInt() == 45);

  auto holiday = Parse(db.Call("holiday.add", R"({"date":"2026-10-01","kind":"holiday","name":"国庆节"})"));
  CHECK(holiday["id"].IsString());
  CHECK(db.Fail("holiday.add", R"({"date":"2026-10-02","kind":"vacation","name":"x"})").Field() == "kind");
}
