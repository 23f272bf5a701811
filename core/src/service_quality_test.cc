// Complaint SLA deadlines in working time, escalation, surveys and claims assistance.
#include "archive_testutil.h"
#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/service_quality.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

int64_t At(const char* iso) {
  auto ms = ParseTimestampMs(iso);
  REQUIRE(ms.ok());
  return *ms;
}

std::string Iso(int64_t ms) { return FormatTimestampMs(ms); }

}  // namespace

TEST_CASE("sla: working hours skip nights and weekends (China Standard Time)") {
  // Friday 2026-11-20 16:00 +08:00 plus 4 working hours: 2 on Friday, 2 on Monday.
  CHECK(Iso(AddWorkingHours(At("2026-11-20T16:00:00+08:00"), 4)) == "2026-11-23T03:00:00.000Z");  // Mon 11:00
  // One working day from Friday 15:00 is Monday 15:00.
  CHECK(Iso(AddWorkingHours(At("2026-11-20T15:00:00+08:00"), 9)) == "2026-11-23T07:00:00.000Z");
  // Received on Saturday: the clock starts Monday 09:00.
  CHECK(Iso(AddWorkingHours(At("2026-11-21T10:00:00+08:00"), 4)) == "2026-11-23T05:00:00.000Z");  // Mon 13:00
  // Received after hours on Wednesday: starts Thursday 09:00.
  CHECK(Iso(AddWorkingHours(At("2026-11-18T20:30:00+08:00"), 2)) == "2026-11-19T03:00:00.000Z");
  // Within one day it is plain addition.
  CHECK(Iso(AddWorkingHours(At("2026-11-17T09:30:00+08:00"), 3)) == "2026-11-17T04:30:00.000Z");
  // Five working days from Monday 10:00 end the next Monday 10:00.
  CHECK(Iso(AddWorkingHours(At("2026-11-16T10:00:00+08:00"), 45)) == "2026-11-23T02:00:00.000Z");
}

TEST_CASE("sla: the deadline follows the severity and an unknown severity is named") {
  const int64_t friday = At("2026-11-20T15:00:00+08:00");
  CHECK(Iso(*ComplaintSlaDeadline("critical", friday)) == "2026-11-23T02:00:00.000Z");  // Mon 10:00
  CHECK(Iso(*ComplaintSlaDeadline("high", friday)) == "2026-11-23T07:00:00.000Z");      // Mon 15:00
  CHECK(Iso(*ComplaintSlaDeadline("medium", friday)) == "2026-11-25T07:00:00.000Z");    // Wed 15:00
  CHECK(Iso(*ComplaintSlaDeadline("low", friday)) == "2026-11-27T07:00:00.000Z");       // Fri 15:00
  auto bad = ComplaintSlaDeadline("urgent", friday);
  CHECK(bad.status().field() == "severity");
}

TEST_CASE("complaints: the deadline is computed on write, overdue ones are escalated once per period") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"甲"})");
  const std::string late = f.Add("complaints", R"({"channel":"phone","category":"claim","severity":"high",
      "received_at":"2026-11-20T15:00:00+08:00","description":"理赔慢"})", c);
  const std::string fine = f.Add("complaints", R"({"channel":"wechat","category":"service","severity":"low",
      "received_at":"2026-11-20T15:00:00+08:00"})", c);
  auto row = f.Show("complaints", late);
  CHECK(row["sla_deadline"].GetInt64() == At("2026-11-23T15:00:00+08:00"));
  CHECK(Text(row, "status") == "open");
  CHECK(Text(row, "handler") == "agent-7");
  // The deadline cannot be moved by hand; a new severity moves it.
  CHECK(f.archive->Set("complaints", late, R"({"sla_deadline":0})").code() == ErrorCode::kReadOnlyField);
  REQUIRE(f.archive->Set("complaints", fine, R"({"severity":"medium"})").ok());
  CHECK(f.Show("complaints", fine)["sla_deadline"].GetInt64() == At("2026-11-25T15:00:00+08:00"));

  auto ctx = f.archive->Context();
  REQUIRE(ctx.ok());
  ctx->now_ms = At("2026-11-23T14:00:00+08:00");  // not yet overdue
  auto none = EscalateOverdueComplaints(f.archive->records(), *ctx);
  REQUIRE(none.ok());
  CHECK(none->empty());
  ctx->now_ms = At("2026-11-23T16:00:00+08:00");
  auto first = EscalateOverdueComplaints(f.archive->records(), *ctx);
  REQUIRE(first.ok());
  CHECK(*first == std::vector<std::string>{late});
  row = f.Show("complaints", late);
  CHECK(Text(row, "status") == "escalated");
  CHECK(row["escalation_level"].GetInt64() == 1);
  CHECK(f.Count("SELECT count(*) FROM complaint_steps WHERE action = 'escalated'") == 1);
  // Not again within the next SLA period (9 working hours: until Tue 16:00).
  ctx->now_ms = At("2026-11-24T15:00:00+08:00");
  CHECK(EscalateOverdueComplaints(f.archive->records(), *ctx)->empty());
  ctx->now_ms = At("2026-11-24T17:00:00+08:00");
  CHECK(EscalateOverdueComplaints(f.archive->records(), *ctx)->size() == 1);
  CHECK(f.Show("complaints", late)["escalation_level"].GetInt64() == 2);

  SECTION("resolving needs a resolution; satisfaction is 1-5 and asked after resolution") {
    Status s = f.archive->Set("complaints", late, R"({"status":"resolved"})");
    CHECK(s.field() == "resolution");
    CHECK(f.archive->Set("complaints", late, R"({"satisfaction":4})").field() == "satisfaction");
    REQUIRE(f.archive->Set("complaints", late, R"({"status":"resolved","resolution":"已赔付","satisfaction":4})").ok());
    CHECK(f.Show("complaints", late)["resolved_at"].IsInt64());
    CHECK(f.archive->Set("complaints", late, R"({"satisfaction":6})").field() == "satisfaction");
    ctx->now_ms = At("2026-12-31T17:00:00+08:00");
    CHECK(*EscalateOverdueComplaints(f.archive->records(), *ctx) == std::vector<std::string>{fine});
  }
}

TEST_CASE("surveys: answers are scored against the template and trended per agent and month") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"甲"})");
  const std::string t = f.Add("survey_templates", R"({"name":"服务满意度","questions":[
      {"key":"attitude","text":"服务态度","max":5},{"key":"speed","text":"响应速度","max":10}]})");
  const std::string r = f.Add("survey_responses", R"({"template_id":")" + t +
                                                     R"(","answers":{"attitude":4,"speed":8},"answered_at":"2026-10-10T02:00:00Z"})", c);
  CHECK(f.Show("survey_responses", r)["score"].GetDouble() == Approx(80.0));
  f.Add("survey_responses", R"({"template_id":")" + t + R"(","answers":{"attitude":5},"answered_at":"2026-10-20T02:00:00Z"})", c);
  f.Add("survey_responses", R"({"template_id":")" + t + R"(","answers":{"speed":5},"answered_at":"2026-11-02T02:00:00Z"})", c);
  auto trend = SurveyTrendJson(*f.store, "2026-10-01", "2026-11-30");
  REQUIRE(trend.ok());
  auto doc = ParseJson(*trend, "trend");
  REQUIRE(doc->Size() == 2);
  CHECK(Text((*doc)[0], "month") == "2026-10");
  CHECK((*doc)[0]["responses"].GetInt64() == 2);
  CHECK((*doc)[0]["mean_score"].GetDouble() == Approx(90.0));
  CHECK(Text((*doc)[1], "month") == "2026-11");
  CHECK((*doc)[1]["mean_score"].GetDouble() == Approx(50.0));

  auto refused = f.archive->Add("survey_responses", R"({"template_id":")" + t + R"(","answers":{"attitude":6}})", c);
  CHECK(refused.status().field() == "answers.attitude");
  refused = f.archive->Add("survey_responses", R"({"template_id":")" + t + R"(","answers":{"mood":1}})", c);
  CHECK(refused.status().field() == "answers.mood");
  auto bad_template = f.archive->Add("survey_templates", R"({"name":"x","questions":[{"key":"a"}]})");
  CHECK(bad_template.status().field() == "questions[0].text");
}

TEST_CASE("claims assistance: steps take the claim's customer and list as overdue by due date") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"甲"})");
  const std::string other = f.Add("customers", R"({"name":"乙"})");
  const std::string p = f.Add("policies", R"({"policy_number":"P1","product":"医疗","effective_date":"2025-01-01",
      "premium":100,"payment_frequency":"annual","status":"in_force"})", c);
  const std::string claim = f.Add("claims", R"({"policy_id":")" + p +
                                                R"(","claim_date":"2026-11-01","type":"medical","amount":5000,"status":"reported"})");
  const std::string step = f.Add("claim_assists", R"({"claim_id":")" + claim +
                                                      R"(","step":"documents_collected","due_date":"2026-11-10"})");
  CHECK(Text(f.Show("claim_assists", step), "customer_id") == c);
  auto wrong = f.archive->Add("claim_assists", R"({"claim_id":")" + claim +
                                                   R"(","step":"submitted","due_date":"2026-11-12"})", other);
  CHECK(wrong.status().field() == "customer_id");
}
