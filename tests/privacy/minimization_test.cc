// Data minimisation through the server: a team lead's pulls carry no sensitive column of
// customers owned by other agents, and a lead may not write what it cannot see.
#include <catch2/catch.hpp>

#include "fieldbook/core/json.h"
#include "fieldbook/server/minimization.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

constexpr const char* kPhone = "13911112222";
constexpr const char* kIdNumber = "11010519491231002X";

rapidjson::Document Show(TestDevice& d, const std::string& id) {
  auto json = d.archive->Show("customers", id);
  REQUIRE(json.ok());
  auto doc = ParseJson(*json, "show");
  REQUIRE(doc.ok());
  return std::move(doc).value();
}

}  // namespace

TEST_CASE("minimisation: the rule, in one place", "[privacy][minimisation]") {
  using server::Role;
  const server::RootInfo agents{"agent-1", "team-1"}, ownerless{"", "team-1"};
  CHECK(server::SeesSensitive({"t1", "agent-1", "team-1", Role::kAgent}, agents));
  CHECK_FALSE(server::SeesSensitive({"t1", "lead-1", "team-1", Role::kLead}, agents));
  CHECK(server::SeesSensitive({"t1", "lead-1", "team-1", Role::kLead}, {"lead-1", "team-1"}));
  CHECK(server::SeesSensitive({"t1", "lead-1", "team-1", Role::kLead}, ownerless));
  CHECK(server::SeesSensitive({"t1", "admin", "", Role::kAdmin}, agents));
}

TEST_CASE("minimisation: a lead pulls no ID numbers or phones of its agents' customers", "[privacy][minimisation]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice agent(dir.File("agent.db"), "agent-1", "team-1");
  TestDevice lead(dir.File("lead.db"), "lead-1", "team-1");
  TestDevice admin(dir.File("admin.db"), "admin", "");
  const std::string agent_token = server.Token("agent-1", "team-1");
  const std::string lead_token = server.Token("lead-1", "team-1", server::Role::kLead);
  const std::string admin_token = server.Token("admin", "", server::Role::kAdmin);

  auto id = agent.archive->Add("customers", std::string(R"({"name":"郑一","phones":[")") + kPhone +
                                                R"("],"id_type":"resident_id","id_number":")" + kIdNumber +
                                                R"(","street":"和平路1号","value_tier":"general"})");
  REQUIRE(id.ok());
  REQUIRE(agent.archive->Add("family_members", R"({"relation":"child","name":"郑小","phone":"13933334444"})", *id).ok());
  REQUIRE(agent.Sync(*server.transport, agent_token).ok());

  REQUIRE(lead.Sync(*server.transport, lead_token).ok());
  auto seen = Show(lead, *id);
  CHECK(std::string(seen["name"].GetString()) == "郑一");
  CHECK(std::string(seen["value_tier"].GetString()) == "general");
  CHECK(seen["phones"].IsNull());
  CHECK(seen["id_number"].IsNull());
  CHECK(seen["street"].IsNull());
  CHECK(lead.Export().find("13933334444") == std::string::npos);
  CHECK(lead.Export().find(kPhone) == std::string::npos);

  REQUIRE(admin.Sync(*server.transport, admin_token).ok());
  auto full = Show(admin, *id);
  CHECK(std::string(full["id_number"].GetString()) == kIdNumber);

  // The lead may edit what it sees; the agent receives it with its own values intact.
  REQUIRE(lead.archive->Set("customers", *id, R"({"value_tier":"high"})").ok());
  REQUIRE(lead.Sync(*server.transport, lead_token).ok());
  REQUIRE(agent.Sync(*server.transport, agent_token).ok());
  auto after = Show(agent, *id);
  CHECK(std::string(after["value_tier"].GetString()) == "high");
  CHECK(std::string(after["id_number"].GetString()) == kIdNumber);

  // A lead's own customer is whole.
  auto own = lead.archive->Add("customers", R"({"name":"王二","phones":["13955556666"],"owner_agent":"lead-1"})");
  REQUIRE(own.ok());
  REQUIRE(lead.Sync(*server.transport, lead_token).ok());
  REQUIRE(lead.Sync(*server.transport, lead_token).ok());
  CHECK(Show(lead, *own)["phones"].IsArray());

  // Writing what it cannot see is refused, naming the column, and nothing is applied.
  REQUIRE(lead.archive->Set("customers", *id, R"({"phones":["13977778888"],"occupation":"教师"})").ok());
  auto refused = lead.Sync(*server.transport, lead_token);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kForbidden);
  CHECK(refused.status().message().find("customers.phones") != std::string::npos);
  REQUIRE(agent.Sync(*server.transport, agent_token).ok());
  CHECK(std::string(Show(agent, *id)["phones"][0].GetString()) == kPhone);
  CHECK(Show(agent, *id)["occupation"].IsNull());
}
