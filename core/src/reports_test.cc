// Reports with fixed dates: ABC boundaries, RFM quintiles, composition and effect.
#include <optional>
#include <random>

#include "archive_testutil.h"
#include "fieldbook/core/reports.h"
#include "id_index.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

rapidjson::Document Report(ArchiveFixture& f, const char* name, ReportOptions options) {
  auto json = RunReport(*f.store, name, options);
  INFO(json.status().ToString());
  REQUIRE(json.ok());
  auto doc = ParseJsonObject(*json, "report");
  REQUIRE(doc.ok());
  return std::move(doc).value();
}

std::string Policy(const std::string& number, int64_t premium, const char* frequency, const char* effective,
                   const char* product = "康宁终身", const char* status = "in_force") {
  return R"({"policy_number":")" + number + R"(","product":")" + product + R"(","effective_date":")" + effective +
         R"(","premium":)" + std::to_string(premium) + R"(,"payment_frequency":")" + frequency +
         R"(","status":")" + status + R"("})";
}

ReportOptions Period(const char* from, const char* to) {
  ReportOptions o;
  o.from = from ? from : "";
  o.to = to;
  return o;
}

}  // namespace

TEST_CASE("id index: ids sharing long prefixes, prefixes of each other, bytes past ASCII, across rehashes") {
  std::vector<std::string> ids = {"", "a", "ab", "abcdefgh", "abcdefgh0", "abcdefghijklmnop", "abcdefghijklmnopq",
                                  "abcdefghijklmnopa", "b", "\x7f", "\xff\xfe"};
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {  // UUIDv7-like: the same time prefix, random tails
    std::string id = "0199c82c-c000-7";
    for (int k = 0; k < 21; ++k) id += "0123456789abcdef"[rng() % 16];
    ids.push_back(id);
  }
  IdIndex index;  // not reserved: it rehashes as it grows
  for (const auto& id : ids) index.Add(id);
  for (const auto& id : ids) CHECK(index.Add(id) == index.Find(id));  // adding again finds the same row
  REQUIRE(index.size() == ids.size());
  for (uint32_t row = 0; row < ids.size(); ++row) {
    CHECK(index.id(row) == ids[row]);
    CHECK(index.Find(ids[row]) == row);
  }
  CHECK(index.Find("abcdefghijklmno") == IdIndex::kNone);
  CHECK(index.Find("c") == IdIndex::kNone);
  IdIndex reserved;  // reserved up front: the same rows
  reserved.Reserve(ids.size());
  for (const auto& id : ids) reserved.Add(id);
  for (uint32_t row = 0; row < ids.size(); ++row) CHECK(reserved.Find(ids[row]) == row);
}

TEST_CASE("abc: the customers making up the first 80% of premium are A, the next 15% B, the rest C") {
  // Sorted premiums 50, 30, 10, 6, 4, 0 of 100: before-shares 0, 50, 80, 90, 96, 100.
  CHECK(AbcClasses({50, 30, 10, 6, 4, 0}) == std::vector<char>{'A', 'A', 'B', 'B', 'C', 'C'});
  // Exactly at a boundary: the customer whose predecessors hold 80% is already B.
  CHECK(AbcClasses({80, 15, 5}) == std::vector<char>{'A', 'B', 'C'});
  // One customer crossing 80% on its own is A.
  CHECK(AbcClasses({79, 21}) == std::vector<char>{'A', 'A'});
  CHECK(AbcClasses({}).empty());
  CHECK(AbcClasses({0, 0}) == std::vector<char>{'C', 'C'});
}

TEST_CASE("rfm: quintile scores 1-5, equal values score equally, missing values score lowest") {
  CHECK(QuintileScores({1.0, 2.0, 3.0, 4.0, 5.0}) == std::vector<int>{1, 2, 3, 4, 5});
  CHECK(QuintileScores({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}) == std::vector<int>{5, 5, 4, 4, 3, 3, 2, 2, 1, 1});
  CHECK(QuintileScores({3.0, 3.0, 3.0}) == std::vector<int>{1, 1, 1});
  CHECK(QuintileScores({std::nullopt, 1.0, 1.0, 2.0, 9.0}) == std::vector<int>{1, 2, 2, 4, 5});
  CHECK(AnnualizedPremium(1000, "monthly") == 12000);
  CHECK(AnnualizedPremium(1000, "quarterly") == 4000);
  CHECK(AnnualizedPremium(1000, "semiannual") == 2000);
  CHECK(AnnualizedPremium(1000, "single") == 1000);
}

TEST_CASE("reports: abc over the archive uses annualised in-force premium") {
  ArchiveFixture f;
  const std::string a = f.Add("customers", R"({"name":"甲","value_tier":"high","province":"广东","city":"深圳"})");
  const std::string b = f.Add("customers", R"({"name":"乙","value_tier":"general","province":"广东","city":"广州"})");
  const std::string c = f.Add("customers", R"({"name":"丙","value_tier":"general"})");
  const std::string d = f.Add("customers", R"({"name":"丁"})");
  f.Add("policies", Policy("P1", 5000, "monthly", "2025-03-01"), a);  // 60000 a year
  f.Add("policies", Policy("P2", 30000, "annual", "2025-05-01", "安康重疾"), b);
  f.Add("policies", Policy("P3", 10000, "annual", "2025-06-01"), c);
  f.Add("policies", Policy("P4", 99999, "annual", "2025-06-01", "康宁终身", "lapsed"), d);  // not in force

  auto abc = Report(f, "abc", Period(nullptr, "2026-01-31"));
  CHECK(abc["premium"].GetInt64() == 100000);
  std::map<std::string, std::string> cls;
  for (const auto& row : abc["by_customer"].GetArray()) cls[row["customer_id"].GetString()] = row["class"].GetString();
  CHECK(cls[a] == "A");  // 0% before it
  CHECK(cls[b] == "A");  // 60% before it: it takes the total past 80%
  CHECK(cls[c] == "B");  // 90% before it
  CHECK(cls[d] == "C");  // no premium in force
  CHECK(abc["classes"][0]["customers"].GetInt64() == 2);
  CHECK(abc["classes"][0]["premium"].GetInt64() == 90000);
}

TEST_CASE("reports: composition counts customers, policies and premium by tier, segment, product and region") {
  ArchiveFixture f;
  const std::string a = f.Add("customers", R"({"name":"甲","value_tier":"high","needs_segment":"family","province":"广东","city":"深圳"})");
  const std::string b = f.Add("customers", R"({"name":"乙","value_tier":"high","province":"广东","city":"广州"})");
  f.Add("customers", R"({"name":"丙"})");
  f.Add("policies", Policy("P1", 1000, "quarterly", "2025-03-01"), a);
  f.Add("policies", Policy("P2", 3000, "annual", "2025-05-01", "安康重疾"), b);
  f.Add("policies", Policy("P3", 500, "annual", "2026-05-01"), b);  // after `to`

  auto doc = Report(f, "composition", Period(nullptr, "2026-01-31"));
  CHECK(doc["customers"].GetInt64() == 3);
  CHECK(doc["policies"].GetInt64() == 2);
  CHECK(doc["premium"].GetInt64() == 7000);
  const auto& tiers = doc["by_value_tier"];
  REQUIRE(tiers.Size() == 2);
  CHECK(Text(tiers[0], "key") == "high");
  CHECK(tiers[0]["customers"].GetInt64() == 2);
  CHECK(tiers[0]["premium"].GetInt64() == 7000);
  CHECK(Text(tiers[1], "key") == "unclassified");
  CHECK(tiers[1]["customers"].GetInt64() == 1);
  const auto& products = doc["by_product"];
  REQUIRE(products.Size() == 2);
  CHECK(Text(products[0], "key") == "康宁终身");
  CHECK(products[0]["premium"].GetInt64() == 4000);
  CHECK(Text(doc["by_region"][0], "key") == "广东");
  CHECK(doc["by_region"][0]["customers"].GetInt64() == 2);
  CHECK(Text(doc["by_needs_segment"][0], "key") == "family");

  SECTION("a bad date or name names the field") {
    auto bad = RunReport(*f.store, "composition", Period("2026-13-01", "2026-01-31"));
    CHECK(bad.status().field() == "from");
    auto unknown = RunReport(*f.store, "pareto", {});
    CHECK(unknown.status().code() == ErrorCode::kInvalidArgument);
    CHECK(unknown.status().field() == "name");
    auto reversed = RunReport(*f.store, "effect", Period("2026-02-01", "2026-01-31"));
    CHECK(reversed.status().field() == "from");
  }
}

TEST_CASE("reports: rfm scores recency from the last contact or purchase, frequency and premium") {
  // Visits and policies read on the profile's connection, or on a second one beside it.
  const bool beside = GENERATE(false, true);
  std::optional<SecondConnection> second;
  if (beside) second.emplace();
  ArchiveFixture f;
  const std::string a = f.Add("customers", R"({"name":"甲"})");
  const std::string b = f.Add("customers", R"({"name":"乙"})");
  const std::string c = f.Add("customers", R"({"name":"丙"})");
  // a: visited 2 days before `to`, twice in the year, premium 3000.
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-01-29T02:00:00Z"})", a);
  f.Add("visits", R"({"channel":"phone","visited_at":"2025-12-01T02:00:00Z"})", a);
  f.Add("policies", Policy("P1", 3000, "annual", "2024-01-01"), a);
  // b: bought 10 days before `to`, premium 1000.
  f.Add("policies", Policy("P2", 1000, "annual", "2026-01-21"), b);
  // c: never contacted, no premium.
  auto doc = Report(f, "rfm", Period(nullptr, "2026-01-31"));
  CHECK(Text(doc, "from") == "2025-02-01");
  std::map<std::string, const rapidjson::Value*> rows;
  for (const auto& row : doc["by_customer"].GetArray()) rows[row["customer_id"].GetString()] = &row;
  CHECK((*rows[a])["recency_days"].GetInt64() == 2);
  CHECK((*rows[a])["frequency"].GetInt64() == 2);
  CHECK((*rows[a])["monetary"].GetInt64() == 3000);
  CHECK(Text(*rows[a], "rfm") == "444");
  CHECK((*rows[b])["recency_days"].GetInt64() == 10);
  CHECK((*rows[b])["frequency"].GetInt64() == 1);
  CHECK(Text(*rows[b], "rfm") == "222");
  CHECK((*rows[c])["recency_days"].IsNull());
  CHECK(Text(*rows[c], "rfm") == "111");
  // One segment per code held, in code order.
  std::vector<std::pair<std::string, int64_t>> segments;
  for (const auto& m : doc["segments"].GetObject()) segments.emplace_back(m.name.GetString(), m.value.GetInt64());
  CHECK(segments == std::vector<std::pair<std::string, int64_t>>{{"111", 1}, {"222", 1}, {"444", 1}});
  // Inside a transaction of the caller's, what it wrote counts (a second connection would
  // not see it).
  auto txn = f.store->Begin(TxnMode::kImmediate);
  REQUIRE(txn.ok());
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-01-30T02:00:00Z"})", c);
  auto during = Report(f, "rfm", Period(nullptr, "2026-01-31"));
  for (const auto& row : during["by_customer"].GetArray()) {
    if (row["customer_id"].GetString() == c) CHECK(row["recency_days"].GetInt64() == 1);
  }
  REQUIRE(txn->Rollback().ok());
}

TEST_CASE("reports: effect divides done by planned contacts and credits opportunities won") {
  ArchiveFixture f;
  const std::string a = f.Add("customers", R"({"name":"甲"})");
  const std::string b = f.Add("customers", R"({"name":"乙"})");
  // Tasks due in January: 3 planned, 2 done; one in February is outside.
  const std::string t1 = f.Add("tasks", R"({"title":"call","due_date":"2026-01-05"})");
  const std::string t2 = f.Add("tasks", R"({"title":"visit","due_date":"2026-01-10"})");
  f.Add("tasks", R"({"title":"mail","due_date":"2026-01-20"})");
  f.Add("tasks", R"({"title":"later","due_date":"2026-02-02"})");
  REQUIRE(f.archive->CompleteTask(t1).ok());
  REQUIRE(f.archive->CompleteTask(t2).ok());
  // A visit in January plans a follow-up on 01-15, done by a later visit on 01-16; it noted
  // new information and an opportunity, won by a policy effective 01-20.
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-01-08T02:00:00Z","new_info":"换了工作",
        "opportunities":"子女教育金","next_action_date":"2026-01-15"})", a);
  f.Add("visits", R"({"channel":"phone","visited_at":"2026-01-16T02:00:00Z"})", a);
  f.Add("policies", Policy("P1", 2000, "annual", "2026-01-20"), a);
  // b: a follow-up planned for 01-25 that never happened, an opportunity still pending.
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-01-12T02:00:00Z","opportunities":"养老",
        "next_action_date":"2026-01-25"})", b);

  auto doc = Report(f, "effect", Period("2026-01-01", "2026-01-31"));
  const auto& total = doc["total"];
  CHECK(total["tasks_planned"].GetInt64() == 3);
  CHECK(total["tasks_done"].GetInt64() == 2);
  CHECK(total["follow_ups_planned"].GetInt64() == 2);
  CHECK(total["follow_ups_done"].GetInt64() == 1);
  CHECK(total["planned_contacts"].GetInt64() == 5);
  CHECK(total["done_contacts"].GetInt64() == 3);
  CHECK(total["contact_achievement_rate"].GetDouble() == Approx(0.6));
  CHECK(total["contacts_made"].GetInt64() == 3);
  CHECK(total["new_information"].GetInt64() == 1);
  CHECK(total["opportunities_found"].GetInt64() == 2);
  CHECK(total["opportunities_won"].GetInt64() == 1);
  CHECK(total["opportunities_pending"].GetInt64() == 1);
  CHECK(total["new_policies"].GetInt64() == 1);
  REQUIRE(doc["agents"].Size() == 1);
  CHECK(Text(doc["agents"][0], "agent") == "agent-7");

  SECTION("by default the period is the month so far") {
    ReportOptions o;
    o.to = "2026-01-31";
    auto month = Report(f, "effect", o);
    CHECK(Text(month, "from") == "2026-01-01");
  }
}

TEST_CASE("reports: a follow-up is credited to the visit's agent, else the owner, and done only by a later visit by `to`") {
  ArchiveFixture f;
  const std::string a = f.Add("customers", R"({"name":"甲"})");
  // Another agent's visit to a's customer plans a follow-up for 01-10, done by the visit on 01-06.
  f.Add("visits", R"({"channel":"visit","agent":"agent-9","visited_at":"2026-01-05T02:00:00Z",
        "next_action_date":"2026-01-10"})", a);
  f.Add("visits", R"({"channel":"phone","visited_at":"2026-01-06T02:00:00Z"})", a);
  // The owner's follow-up for 01-20: the next visit is on 02-03, after the period.
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-01-07T02:00:00Z","next_action_date":"2026-01-20"})", a);
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-02-03T02:00:00Z"})", a);
  // Planned outside the period: not counted.
  f.Add("visits", R"({"channel":"visit","visited_at":"2026-01-04T02:00:00Z","next_action_date":"2026-02-01"})", a);

  auto mine = Report(f, "effect", Period("2026-01-01", "2026-01-31"));
  REQUIRE(mine["agents"].Size() == 1);
  CHECK(Text(mine["agents"][0], "agent") == "agent-7");
  CHECK(mine["total"]["follow_ups_planned"].GetInt64() == 1);
  CHECK(mine["total"]["follow_ups_done"].GetInt64() == 0);

  ReportOptions team = Period("2026-01-01", "2026-01-31");
  team.team = true;
  auto all = Report(f, "effect", team);
  REQUIRE(all["agents"].Size() == 2);
  CHECK(Text(all["agents"][1], "agent") == "agent-9");
  CHECK(all["agents"][1]["follow_ups_planned"].GetInt64() == 1);
  CHECK(all["agents"][1]["follow_ups_done"].GetInt64() == 1);
  CHECK(all["total"]["follow_ups_planned"].GetInt64() == 2);
  CHECK(all["total"]["follow_ups_done"].GetInt64() == 1);

  // Through March the owner's follow-up is done by the 02-03 visit.
  auto spring = Report(f, "effect", Period("2026-01-01", "2026-03-31"));
  CHECK(spring["total"]["follow_ups_planned"].GetInt64() == 2);
  CHECK(spring["total"]["follow_ups_done"].GetInt64() == 2);
}
