// Reports, pinyin search, the access audit, complaints and evaluations through the real
// fieldbook binary, on a fixture archive (tests/cli/fixtures/operations.jsonl) with fixed
// dates.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "fieldbook/core/json.h"
#include "cli_runner.h"
#include "support/test_support.h"

using namespace fieldbook;
using fieldbook::testing::Fieldbook;
using fieldbook::testing::Outcome;
using fieldbook::testing::TempDir;

namespace {

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kZhang = "0190a5c4-0001-7000-8000-000000000001";
const std::string kShan = "0190a5c4-0001-7000-8000-000000000002";
const std::string kZeng = "0190a5c4-0001-7000-8000-000000000003";
const std::string kLi = "0190a5c4-0001-7000-8000-000000000004";

// A profile loaded from the fixture archive, with policies and visits added.
struct Fixture {
  TempDir dir;
  std::string db = dir.File("agent.db");

  explicit Fixture(const char* role = nullptr) {
    std::vector<std::string> init{"--db", db, "init", "--agent", "agent-7", "--team", "team-3"};
    if (role) init.insert(init.end(), {"--role", role});
    REQUIRE(Fieldbook(init).code == 0);
    Ok({"import", "--jsonl", testing::SourceDir() + "/tests/cli/fixtures/operations.jsonl"});
  }
  Outcome Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--db", db});
    return Fieldbook(args);
  }
  std::string Ok(const std::vector<std::string>& args) const {
    Outcome o = Run(args);
    INFO("fieldbook " << args[0] << (args.size() > 1 ? " " + args[1] : "") << "\nstderr: " << o.err);
    REQUIRE(o.code == 0);
    while (!o.out.empty() && o.out.back() == '\n') o.out.pop_back();
    return o.out;
  }
  rapidjson::Document Json(const std::vector<std::string>& args) const {
    const std::string out = Ok(args);
    auto doc = ParseJson(out, "stdout");
    INFO(out);
    REQUIRE(doc.ok());
    return std::move(doc).value();
  }
  void Policy(const std::string& customer, const std::string& number, int premium, const char* effective) const {
    Ok({"policy", "add", customer, "--json",
        R"({"policy_number":")" + number + R"(","product":"康宁终身","effective_date":")" + effective +
            R"(","premium":)" + std::to_string(premium) + R"(,"payment_frequency":"annual","status":"in_force"})"});
  }
};

std::vector<std::string> Ids(const rapidjson::Value& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows.GetArray()) out.emplace_back(r["id"].GetString());
  return out;
}

}  // namespace

TEST_CASE("report composition, abc, rfm and effect as JSON with fixed dates", "[cli][report]") {
  Fixture f;
  f.Policy(kZhang, "P1", 80000, "2025-03-01");
  f.Policy(kShan, "P2", 15000, "2025-06-01");
  f.Policy(kZeng, "P3", 5000, "2025-12-20");
  f.Ok({"visit", "log", kZeng, "--json", R"({"channel":"phone","visited_at":"2026-01-30T02:00:00Z",
       "new_info":"换了工作","opportunities":"重疾"})"});

  auto composition = f.Json({"report", "composition", "--to", "2026-01-31", "--json"});
  CHECK(composition["customers"].GetInt64() == 4);
  CHECK(composition["premium"].GetInt64() == 100000);
  CHECK(std::string(composition["by_region"][0]["key"].GetString()) == "广东");
  CHECK(composition["by_region"][0]["premium"].GetInt64() == 85000);

  auto abc = f.Json({"report", "abc", "--to", "2026-01-31", "--json"});
  std::map<std::string, std::string> cls;
  for (const auto& r : abc["by_customer"].GetArray()) cls[r["customer_id"].GetString()] = r["class"].GetString();
  CHECK(cls[kZhang] == "A");
  CHECK(cls[kShan] == "B");  // 80% before it
  CHECK(cls[kZeng] == "C");  // 95% before it
  CHECK(cls[kLi] == "C");

  auto rfm = f.Json({"report", "rfm", "--to", "2026-01-31", "--json"});
  std::map<std::string, std::string> codes;
  for (const auto& r : rfm["by_customer"].GetArray()) codes[r["customer_id"].GetString()] = r["rfm"].GetString();
  // Zeng: contacted a day ago (R 4 of 4 customers), two touches in the year (F 4), the
  // second-lowest premium (M 2).
  CHECK(codes[kZeng] == "442");
  CHECK(codes[kLi] == "111");

  auto effect = f.Json({"report", "effect", "--from", "2026-01-01", "--to", "2026-01-31", "--json"});
  CHECK(effect["total"]["contacts_made"].GetInt64() == 1);
  CHECK(effect["total"]["new_information"].GetInt64() == 1);
  CHECK(effect["total"]["opportunities_pending"].GetInt64() == 1);
  CHECK(effect["total"]["contact_achievement_rate"].IsNull());  // nothing was planned

  auto unknown = f.Run({"report", "pareto", "--json"});
  CHECK(unknown.code == 2);
  CHECK(Has(unknown.err, "pareto"));
  auto bad = f.Run({"report", "abc", "--from", "2026-02-30", "--json"});
  CHECK(bad.code == 2);
  CHECK(Has(bad.err, "from"));
}

TEST_CASE("customer list finds pinyin initials and full pinyin, and sorts in pinyin order", "[cli][pinyin]") {
  Fixture f;
  auto pinyin = Fieldbook({"pinyin", "单田芳", "--json"});
  if (pinyin.code == 2) {  // built without ICU: said clearly
    CHECK(Has(pinyin.err, "unavailable"));
    CHECK(f.Run({"customer", "list", "--sort", "name"}).code == 2);
    return;
  }
  REQUIRE(pinyin.code == 0);
  CHECK(Has(pinyin.out, R"("full":"shantianfang")"));
  CHECK(Ids(f.Json({"customer", "list", "--search", "zs", "--json"})) == std::vector<std::string>{kZhang});
  CHECK(Ids(f.Json({"customer", "list", "--search", "shantianfang", "--json"})) == std::vector<std::string>{kShan});
  CHECK(Ids(f.Json({"customer", "list", "--search", "dtf", "--json"})) == std::vector<std::string>{kShan});
  CHECK(Ids(f.Json({"customer", "list", "--search", "zengxiaoxian", "--json"})) == std::vector<std::string>{kZeng});
  CHECK(Ids(f.Json({"customer", "list", "--search", "138001380", "--json"})).size() == 4);
  // 曾 (ceng) < 单 (dan) < 李 (li) < 张 (zhang) in ICU's zh collation.
  CHECK(Ids(f.Json({"customer", "list", "--sort", "name", "--json"})) ==
        std::vector<std::string>{kZeng, kShan, kLi, kZhang});
  CHECK(f.Run({"customer", "list", "--sort", "phone"}).code == 2);
}

TEST_CASE("reads of personal data are audited with purpose, ids only", "[cli][audit]") {
  Fixture f;
  f.Ok({"customer", "show", kZhang, "--json", "--purpose", "claim"});
  f.Ok({"customer", "archive", kShan, "--json"});
  f.Ok({"customer", "list", "--search", "李", "--json"});
  f.Ok({"export", "--json", "--purpose", "backup"});
  f.Ok({"policy", "list", kZhang, "--json"});  // no personal columns: not audited
  auto bad = f.Run({"customer", "show", kZhang, "--json", "--purpose", "curiosity"});
  CHECK(bad.code == 2);
  CHECK(Has(bad.err, "purpose"));

  const std::string text = f.Ok({"audit", "--json"});
  for (const char* secret : {"张三", "单田芳", "李四", "13800138001", "13800138004"}) CHECK_FALSE(Has(text, secret));
  auto audit = ParseJson(text, "audit");
  REQUIRE(audit.ok());
  REQUIRE(audit->Size() == 4);
  const auto& show = (*audit)[0];
  CHECK(std::string(show["agent"].GetString()) == "agent-7");
  CHECK(std::string(show["action"].GetString()) == "read");
  CHECK(std::string(show["target"].GetString()) == "customers");
  CHECK(std::string(show["row_ids"][0].GetString()) == kZhang);
  CHECK(std::string(show["purpose"].GetString()) == "claim");
  CHECK(std::string((*audit)[1]["purpose"].GetString()) == "service");  // the default
  CHECK(std::string((*audit)[2]["action"].GetString()) == "search");
  CHECK(std::string((*audit)[2]["row_ids"][0].GetString()) == kLi);
  CHECK(std::string((*audit)[3]["action"].GetString()) == "export");
  CHECK((*audit)[3]["row_count"].GetInt64() >= 4);
  CHECK(f.Json({"audit", "--from", "2000-01-01", "--to", "2000-01-02", "--json"}).Size() == 0);
  CHECK(f.Run({"audit", "--from", "soon"}).code == 2);
}

TEST_CASE("complaint SLA skips the weekend, overdue complaints escalate, resolution records satisfaction",
          "[cli][complaint]") {
  Fixture f;
  const std::string c = f.Ok({"complaint", "add", kZhang, "--json", R"({"channel":"phone","category":"claim",
      "severity":"high","received_at":"2026-11-20T15:00:00+08:00"})"});
  auto row = f.Json({"complaint", "show", c, "--json"});
  CHECK(row["sla_deadline"].GetInt64() == 1795417200000);  // Monday 2026-11-23 15:00 +08:00
  CHECK(f.Json({"complaint", "list", "--overdue", "--now", "2026-11-23T14:00:00+08:00", "--json"}).Size() == 0);
  auto escalated = f.Json({"complaint", "escalate", "--now", "2026-11-23T16:00:00+08:00", "--json"});
  REQUIRE(escalated["escalated"].Size() == 1);
  CHECK(std::string(escalated["escalated"][0].GetString()) == c);
  CHECK(std::string(f.Json({"complaint", "show", c, "--json"})["status"].GetString()) == "escalated");
  auto bad = f.Run({"complaint", "add", kZhang, "--json", R"({"channel":"phone","category":"claim",
      "severity":"urgent","received_at":"2026-11-20T15:00:00+08:00"})"});
  CHECK(bad.code == 2);
  CHECK(Has(bad.err, "severity"));
  auto resolved = f.Json({"complaint", "resolve", c, "--resolution", "已赔付", "--satisfaction", "4", "--json"});
  CHECK(std::string(resolved["status"].GetString()) == "resolved");
  CHECK(resolved["satisfaction"].GetInt64() == 4);
}

TEST_CASE("only a lead approves a relationship evaluation", "[cli][relation]") {
  Fixture agent;
  agent.Ok({"relation", "card", "set", kZhang, "--json", R"({"level":"key","strength":4,"maintenance_plan":"每月拜访"})"});
  CHECK(std::string(agent.Json({"relation", "card", "show", kZhang, "--json"})["level"].GetString()) == "key");
  const std::string e = agent.Ok({"relation", "eval", "add", kZhang, "--json",
                                  R"({"period":"2026-Q4","scores":{"trust":4,"contact":5},"status":"submitted"})"});
  auto refused = agent.Run({"relation", "eval", "approve", e});
  CHECK(refused.code == 2);
  CHECK(Has(refused.err, "lead"));

  Fixture lead("lead");
  const std::string e2 = lead.Ok({"relation", "eval", "add", kZhang, "--json",
                                  R"({"period":"2026-Q4","scores":{"trust":4,"contact":5},"status":"submitted"})"});
  auto approved = lead.Json({"relation", "eval", "approve", e2, "--feedback", "继续保持", "--json"});
  CHECK(std::string(approved["status"].GetString()) == "approved");
  CHECK(std::string(approved["reviewed_by"].GetString()) == "agent-7");
  CHECK(approved["total"].GetInt64() == 9);
  CHECK(lead.Run({"relation", "eval", "reject", e2}).code == 2);  // needs --feedback
}
