// Customer operation on the command line: today, calendar, kanban, classify, lifecycle,
// config, quota and holiday, run as the real fieldbook binary on a fixture archive.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "fieldbook/core/json.h"
#include "cli_runner.h"
#include "support/test_support.h"

using namespace fieldbook;
using fieldbook::testing::Outcome;
using fieldbook::testing::TempDir;

namespace {

class Cli {
 public:
  Cli() : db_(dir_.File("agent.db")) {}

  Outcome Run(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"--db", db_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Fieldbook(argv);
  }

  std::string Ok(const std::vector<std::string>& args) {
    Outcome o = Run(args);
    INFO("fieldbook " << args[0] << ": " << o.err);
    REQUIRE(o.code == 0);
    return o.out;
  }

  std::string Id(const std::vector<std::string>& args) {
    std::string out = Ok(args);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  rapidjson::Document Json(const std::vector<std::string>& args) {
    auto doc = ParseJson(Ok(args), "output");
    REQUIRE(doc.ok());
    return std::move(doc).value();
  }

 private:
  TempDir dir_;
  std::string db_;
};

// An agent with a lunar-birthday customer (born on Mid-Autumn 1990) who consented to
// marketing, a customer who did not, policies, a task and a visit.
struct Fixture {
  Fixture() {
    cli.Ok({"init", "--agent", "agent-1", "--team", "team-1", "--role", "admin"});
    consenting = cli.Id({"customer", "add", "--json",
                         R"({"kind":"person","name":"张三","birth_date":"1990-10-03","lunar_birthday":true,"value_tier":"high"})"});
    cli.Ok({"consent", "add", consenting, "--json",
            R"({"purpose":"marketing","granted":true,"channel":"paper","recorded_at":"2025-01-01T00:00:00Z"})"});
    silent = cli.Id({"customer", "add", "--json", R"({"kind":"person","name":"李四","birth_date":"1985-09-25"})"});
    policy = cli.Id({"policy", "add", silent, "--json",
                     R"({"policy_number":"P-1","product":"寿险","effective_date":"2024-02-29","premium":1200000,"payment_frequency":"annual"})"});
    cli.Ok({"task", "add", "--json", R"({"title":"回访张三","due_date":"2026-09-22","kind":"call"})"});
    cli.Ok({"task", "add", "--json", R"({"title":"送资料","due_date":"2026-09-24","kind":"visit","done":true})"});
  }
  Cli cli;
  std::string consenting, silent, policy;
};

std::vector<std::string> Kinds(const rapidjson::Value& occasions, const std::string& customer) {
  std::vector<std::string> out;
  for (const auto& o : occasions.GetArray()) {
    if (o["customer_id"].IsString() && customer == o["customer_id"].GetString()) out.push_back(o["kind"].GetString());
  }
  return out;
}

}  // namespace

TEST_CASE("cli: today lists the lunar birthday and Mid-Autumn on 2026-09-25, not the unconsented birthday",
          "[cli][operation]") {
  Fixture f;
  auto doc = f.cli.Json({"today", "--date", "2026-09-25", "--json"});
  CHECK(std::string(doc["today"].GetString()) == "2026-09-25");
  REQUIRE(doc["lunar_available"].IsBool());
  if (!doc["lunar_available"].GetBool()) {
    CHECK(doc["notices"].Size() == 1);
    return;
  }
  CHECK(Kinds(doc["occasions"], f.consenting) == std::vector<std::string>{"birthday"});
  CHECK(Kinds(doc["occasions"], f.silent).empty());  // 李四's solar birthday, but no consent
  bool mid_autumn = false;
  for (const auto& o : doc["occasions"].GetArray()) {
    if (std::string(o["kind"].GetString()) == "festival") {
      mid_autumn = std::string(o["detail"].GetString()) == "lunar 8-15";
      CHECK(o["greet_customers"].GetInt() == 1);
    }
  }
  CHECK(mid_autumn);
  // The overdue call task shows in today's view.
  bool overdue_task = false;
  for (const auto& o : doc["occasions"].GetArray()) {
    overdue_task |= std::string(o["kind"].GetString()) == "task" && o["overdue"].GetBool();
  }
  CHECK(overdue_task);
  // Plain output too.
  CHECK(f.cli.Ok({"today", "--date", "2026-09-25"}).find("张三 birthday") != std::string::npos);
  // Later runs take back the lunar years the first kept in the profile, and answer the same.
  const std::string again = f.cli.Ok({"today", "--date", "2026-09-25", "--json"});
  CHECK(f.cli.Ok({"today", "--date", "2026-09-25", "--json"}) == again);
  rapidjson::Document same;
  REQUIRE(!same.Parse(again.c_str()).HasParseError());
  CHECK(same["count"] == doc["count"]);
}

TEST_CASE("cli: calendar over a range lists premium due dates of a 29 February policy", "[cli][operation]") {
  Fixture f;
  auto doc = f.cli.Json({"calendar", "--from", "2027-01-01", "--to", "2028-12-31", "--json"});
  std::vector<std::string> dues;
  for (const auto& o : doc["occasions"].GetArray()) {
    if (std::string(o["kind"].GetString()) == "premium_due") dues.push_back(o["date"].GetString());
  }
  CHECK(dues == std::vector<std::string>{"2027-02-28", "2028-02-29"});
  // The same query gives the same ids.
  auto again = f.cli.Json({"calendar", "--from", "2027-01-01", "--to", "2028-12-31", "--json"});
  CHECK(ToJson(doc["occasions"]) == ToJson(again["occasions"]));
}

TEST_CASE("cli: operation commands refuse bad input with exit code 2 naming the field", "[cli][operation]") {
  Fixture f;
  auto bad = f.cli.Run({"calendar", "--from", "2026-13-01", "--to", "2026-12-31"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("from") != std::string::npos);
  bad = f.cli.Run({"calendar", "--from", "2026-02-01", "--to", "2026-01-01"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("to") != std::string::npos);
  bad = f.cli.Run({"calendar", "--to", "2026-01-01"});
  CHECK(bad.code == 2);
  bad = f.cli.Run({"kanban", "--day", "--week"});
  CHECK(bad.code == 2);
  bad = f.cli.Run({"config", "set", "--json", R"({"grace_days":"sixty"})"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("grace_days") != std::string::npos);
  bad = f.cli.Run({"lifecycle", "move", f.silent, "--stage", "vip"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("stage") != std::string::npos);
  bad = f.cli.Run({"classify", "set", f.silent, "--tier", "gold"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("value_tier") != std::string::npos);
  bad = f.cli.Run({"classify", "0190a5c4-0000-7000-8000-000000000001"});
  CHECK(bad.code == 3);
  // Nothing was half-written: the history is still empty.
  CHECK(f.cli.Json({"lifecycle", f.silent, "--json"}).Size() == 0);
}

TEST_CASE("cli: kanban for the week, for the team, and the contact achievement rate", "[cli][operation]") {
  Fixture f;
  auto doc = f.cli.Json({"kanban", "--week", "--date", "2026-09-25", "--json"});
  CHECK(std::string(doc["from"].GetString()) == "2026-09-21");
  CHECK(std::string(doc["to"].GetString()) == "2026-09-27");
  REQUIRE(doc["agents"].Size() == 1);
  const auto& a = doc["agents"][0];
  CHECK(a["tasks"]["planned"].GetInt() == 2);
  CHECK(a["tasks"]["done"].GetInt() == 1);
  CHECK(a["tasks"]["overdue"].GetInt() == 1);
  CHECK(a["contacts"]["planned"].GetInt() == a["tasks"]["planned"].GetInt() + a["revisits"]["planned"].GetInt());
  f.cli.Ok({"quota", "set", "--json", R"({"visits_per_day":4})"});
  doc = f.cli.Json({"kanban", "--day", "--date", "2026-09-25", "--team", "--json"});
  CHECK(doc["team"].GetBool());
  CHECK(doc["agents"][0]["quotas"]["visits"]["target"].GetInt() == 4);
  CHECK(std::string(doc["total"]["agent"].GetString()) == "*");
  CHECK(f.cli.Ok({"kanban", "--month", "--date", "2026-09-25"}).find("contact rate") != std::string::npos);
}

TEST_CASE("cli: classify, override, lifecycle and holidays", "[cli][operation]") {
  Fixture f;
  auto c = f.cli.Json({"classify", f.silent, "--date", "2026-06-01", "--json"});
  CHECK(std::string(c["value_tier"].GetString()) == "general");
  CHECK(std::string(c["status"].GetString()) == "customer");
  c = f.cli.Json({"classify", "set", f.silent, "--tier", "high", "--reason", "VIP", "--json"});
  CHECK(std::string(c["value_tier"].GetString()) == "high");
  CHECK(std::string(c["tier_override"].GetString()) == "high");
  c = f.cli.Json({"classify", "--all", "--date", "2026-06-01", "--json"});
  for (const auto& one : c.GetArray()) {
    if (f.silent == one["customer_id"].GetString()) CHECK(std::string(one["value_tier"].GetString()) == "high");
  }
  auto steps = f.cli.Json({"lifecycle", "advance", "--all", "--json"});
  REQUIRE(steps.Size() == 1);
  CHECK(std::string(steps[0]["reason"].GetString()) == "first_policy");
  f.cli.Ok({"lifecycle", "move", f.silent, "--stage", "mature", "--reason", "老客户"});
  auto history = f.cli.Json({"lifecycle", f.silent, "--json"});
  REQUIRE(history.Size() == 2);
  CHECK(std::string(history[1]["reason"].GetString()) == "manual");
  CHECK(std::string(history[1]["note"].GetString()) == "老客户");
  f.cli.Ok({"holiday", "add", "--json", R"({"date":"2026-10-02","kind":"holiday","name":"国庆节假期"})"});
  f.cli.Ok({"holiday", "add", "--json", R"({"date":"2026-10-02","kind":"holiday","name":"国庆节"})"});
  auto holidays = f.cli.Json({"holiday", "list", "--json"});
  REQUIRE(holidays.Size() == 1);
  CHECK(std::string(holidays[0]["name"].GetString()) == "国庆节");
  auto cal = f.cli.Json({"calendar", "--from", "2026-10-02", "--to", "2026-10-02", "--json"});
  bool listed = false;
  for (const auto& o : cal["occasions"].GetArray()) listed |= std::string(o["kind"].GetString()) == "holiday";
  CHECK(listed);
}

TEST_CASE("cli: an agent's profile may not change team settings or holidays", "[cli][operation]") {
  // The server takes such rows only from a lead or admin and would refuse every later
  // sync of the profile; they are refused here, before anything is written.
  Cli cli;
  cli.Ok({"init", "--agent", "agent-1", "--team", "team-1"});
  Outcome config = cli.Run({"config", "set", "--json", R"({"grace_days":30})"});
  CHECK(config.code == 5);
  CHECK(config.err.find("only a team lead or an admin may change operation_config") != std::string::npos);
  Outcome holiday = cli.Run({"holiday", "add", "--json", R"({"date":"2026-10-01","kind":"holiday","name":"国庆节"})"});
  CHECK(holiday.code == 5);
  CHECK(holiday.err.find("only an admin may change holidays") != std::string::npos);
  CHECK(cli.Json({"holiday", "list", "--json"}).Size() == 0);

  // A lead may configure the team, not the tenant's holidays.
  cli.Ok({"init", "--agent", "agent-1", "--team", "team-1", "--role", "lead"});
  cli.Ok({"config", "set", "--json", R"({"grace_days":30})"});
  CHECK(cli.Run({"holiday", "add", "--json", R"({"date":"2026-10-01","kind":"holiday","name":"国庆节"})"}).code == 5);
}
