// Reports, relationship methods and the access audit through the C API.
#include "c_api_fixture.h"
#include "support/test_support.h"

using namespace fieldbook::testing;

TEST_CASE("c api: report runs each named report with fixed dates and names bad arguments") {
  TempDir dir;
  Db db(dir.File("a.db"));
  const std::string a = db.AddCustomer(R"({"name":"张三","value_tier":"high"})");
  const std::string b = db.AddCustomer(R"({"name":"李四"})");
  db.Call("policy.add", R"({"customer_id":")" + a +
                            R"(","policy_number":"P-1","product":"康宁","effective_date":"2025-01-01","premium":9000,)"
                            R"("payment_frequency":"annual","status":"in_force"})");
  db.Call("policy.add", R"({"customer_id":")" + b +
                            R"(","policy_number":"P-2","product":"康宁","effective_date":"2025-01-01","premium":1000,)"
                            R"("payment_frequency":"annual","status":"in_force"})");
  auto composition = Parse(db.Call("report", R"({"name":"composition","to":"2026-01-31"})"));
  CHECK(composition["premium"].GetInt64() == 10000);
  CHECK(std::string(composition["by_value_tier"][0]["key"].GetString()) == "high");
  auto abc = Parse(db.Call("report", R"({"name":"abc","to":"2026-01-31","details":false})"));
  CHECK_FALSE(abc.HasMember("by_customer"));
  CHECK(abc["classes"][0]["customers"].GetInt64() == 1);  // A: 张三 alone holds 90%
  CHECK(abc["classes"][1]["customers"].GetInt64() == 1);
  auto rfm = Parse(db.Call("report", R"({"name":"rfm","to":"2026-01-31"})"));
  CHECK(rfm["customers"].GetInt64() == 2);
  auto effect = Parse(db.Call("report", R"({"name":"effect","from":"2026-01-01","to":"2026-01-31","team":true})"));
  CHECK(std::string(effect["scope"].GetString()) == "team");

  Error unknown = db.Fail("report", R"({"name":"pareto"})");
  CHECK(unknown.code == FIELDBOOK_ERR_INVALID_ARGUMENT);
  CHECK(unknown.Field() == "name");
  CHECK(db.Fail("report", R"({"name":"abc","to":"2026-02-30"})").Field() == "to");
  CHECK(db.Fail("report", R"({"name":"abc","colour":"red"})").Field() == "colour");
  CHECK(db.Fail("report", "{}").Field() == "name");
}

TEST_CASE("c api: reads of personal data are audited, relationship cards and evaluations") {
  TempDir dir;
  Db db(dir.File("a.db"));
  const std::string a = db.AddCustomer(R"({"name":"张三","phones":["13800138000"]})");
  db.Call("customer.show", R"({"id":")" + a + R"(","purpose":"claim"})");
  db.Call("customer.list", R"({"search":"zs"})");
  CHECK(db.Fail("customer.show", R"({"id":")" + a + R"(","purpose":"gossip"})").Field() == "purpose");
  const std::string audit = db.Call("audit.list");
  CHECK(audit.find("张三") == std::string::npos);
  CHECK(audit.find("13800138000") == std::string::npos);
  auto rows = Parse(audit);
  REQUIRE(rows.Size() == 2);
  CHECK(std::string(rows[0]["purpose"].GetString()) == "claim");
  CHECK(std::string(rows[0]["channel"].GetString()) == "api");
  CHECK(std::string(rows[1]["action"].GetString()) == "search");

  auto card = Parse(db.Call("relation.card.set", R"({"customer_id":")" + a + R"(","level":"key","strength":3})"));
  auto again = Parse(db.Call("relation.card.set", R"({"customer_id":")" + a + R"(","strength":5})"));
  CHECK(std::string(card["id"].GetString()) == again["id"].GetString());
  auto eval = Parse(db.Call("relation.eval.add", R"({"customer_id":")" + a +
                                                     R"(","period":"2026-Q4","scores":{"trust":5},"status":"submitted"})"));
  Error not_lead = db.Fail("relation.eval.approve", R"({"id":")" + std::string(eval["id"].GetString()) + R"("})");
  CHECK(not_lead.Field() == "status");
}
