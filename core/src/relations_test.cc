// Relationship cards, evaluations approved by a lead, holdings and event attendance.
#include "archive_testutil.h"
#include "fieldbook/core/relations.h"

using namespace fieldbook;
using namespace fieldbook::testing;

TEST_CASE("relationship card: one per customer, created and updated by the customer's id") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"甲"})");
  auto ctx = f.archive->Context();
  REQUIRE(ctx.ok());
  auto id = SetRelationshipCard(f.archive->records(), c, R"({"level":"key","strength":4,"maintenance_plan":"每月拜访"})", *ctx);
  REQUIRE(id.ok());
  CHECK(*id == RelationshipCardId(c));
  auto again = SetRelationshipCard(f.archive->records(), c, R"({"strength":5})", *ctx);
  REQUIRE(again.ok());
  CHECK(*again == *id);
  auto card = f.Show("relationship_cards", *id);
  CHECK(Text(card, "level") == "key");
  CHECK(card["strength"].GetInt64() == 5);
  CHECK(f.Count("SELECT count(*) FROM relationship_cards") == 1);
  // Another customer gets another id; the same customer on another device the same one.
  CHECK(RelationshipCardId(c) != RelationshipCardId("0190a5c4-1111-7222-8333-444455556666"));
  CHECK(RelationshipCardId(c).size() == 36);
  auto bad = SetRelationshipCard(f.archive->records(), c, R"({"strength":9})", *ctx);
  CHECK(bad.status().field() == "strength");
  auto fixed = SetRelationshipCard(f.archive->records(), c, R"({"customer_id":"x"})", *ctx);
  CHECK(fixed.status().field() == "customer_id");
}

TEST_CASE("evaluation: the total follows the scores and only a lead approves a submitted form") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"甲"})");
  const std::string e = f.Add("relationship_evaluations",
                              R"({"period":"2026-Q4","scores":{"trust":4,"contact":3,"referrals":5}})", c);
  auto row = f.Show("relationship_evaluations", e);
  CHECK(row["total"].GetInt64() == 12);
  CHECK(Text(row, "status") == "draft");
  CHECK(f.archive->Add("relationship_evaluations", R"({"period":"x","scores":{"trust":6}})", c).status().field() ==
        "scores.trust");
  auto ctx = f.archive->Context();
  REQUIRE(ctx.ok());
  // A draft is not reviewed; an agent cannot approve.
  REQUIRE(SetProfileRole(*f.store, "lead").ok());
  CHECK(ReviewEvaluation(f.archive->records(), e, true, "", *ctx).field() == "status");
  REQUIRE(f.archive->Set("relationship_evaluations", e, R"({"status":"submitted"})").ok());
  REQUIRE(SetProfileRole(*f.store, "agent").ok());
  Status refused = ReviewEvaluation(f.archive->records(), e, true, "", *ctx);
  CHECK(refused.field() == "status");
  CHECK(refused.message().find("lead") != std::string::npos);
  CHECK(f.archive->Set("relationship_evaluations", e, R"({"status":"approved"})").field() == "status");
  CHECK(f.archive->Set("relationship_evaluations", e, R"({"reviewed_by":"me"})").field() == "reviewed_by");
  // The lead approves with feedback; the approver and time are recorded.
  REQUIRE(SetProfileRole(*f.store, "lead").ok());
  REQUIRE(ReviewEvaluation(f.archive->records(), e, true, "关系稳固，继续保持", *ctx).ok());
  row = f.Show("relationship_evaluations", e);
  CHECK(Text(row, "status") == "approved");
  CHECK(Text(row, "reviewed_by") == "agent-7");
  CHECK(row["reviewed_at"].GetInt64() == ctx->now_ms);
  CHECK(Text(row, "feedback") == "关系稳固，继续保持");
  CHECK(f.archive->Set("relationship_evaluations", e, R"({"scores":{"trust":1}})").field() == "scores");
  CHECK(SetProfileRole(*f.store, "boss").field() == "role");
}

TEST_CASE("holdings and events: ranges are checked, invitations record responses") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"甲"})");
  f.Add("investment_holdings", R"({"product":"投连A","purchase_date":"2026-01-05","amount":5000000,
      "expected_return_pct":4.5,"stop_loss_pct":10,"risk_preference":"balanced"})", c);
  auto bad = f.archive->Add("investment_holdings", R"({"product":"投连B","purchase_date":"2026-01-05","amount":1,
      "stop_loss_pct":120,"risk_preference":"growth"})", c);
  CHECK(bad.status().field() == "stop_loss_pct");
  const std::string ev = f.Add("events", R"({"title":"健康讲座","kind":"seminar","event_date":"2026-12-05"})");
  CHECK(Text(f.Show("events", ev), "owner_agent") == "agent-7");
  const std::string inv = f.Add("event_invitations", R"({"event_id":")" + ev + R"("})", c);
  CHECK(f.Show("event_invitations", inv)["responded_at"].IsNull());
  REQUIRE(f.archive->Set("event_invitations", inv, R"({"status":"attended","guests":1})").ok());
  CHECK(f.Show("event_invitations", inv)["responded_at"].GetInt64() == f.env.NowMs());
  auto missing = f.archive->Add("event_invitations", R"({"event_id":"0190a5c4-1111-7222-8333-444455556666"})", c);
  CHECK(missing.status().code() == ErrorCode::kNotFound);
}
