// Relationship tables. Rows about one customer live under the customer (UnderRoot), so
// they travel with it when it is reassigned; events belong to the agent who runs them.
#include "fieldbook/core/relations.h"

#include "fieldbook/core/archive_schema.h"

namespace fieldbook {
namespace {

constexpr int kV2 = 2;

TableSpec RelationshipCards() {
  TableBuilder b("relationship_cards", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers").Merge(MergePolicy::kImmutable)
      .Enum("level", {"key", "general"}).Required()  // 重点 / 一般
      .Int("strength", Format::kCount)                // 1 (weak) .. 5 (close)
      .Text("maintenance_plan").Merge(MergePolicy::kTextMerge).MaxLength(20000)
      .Int("contact_interval_days", Format::kCount)
      .Text("next_review_date", Format::kDate)
      .Text("notes").Merge(MergePolicy::kTextMerge).Personal().MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec RelationshipLogs() {
  TableBuilder b("relationship_logs", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Enum("kind", {"call", "mail", "visit", "greeting", "event", "information"}).Required()
      .Text("occurred_on", Format::kDate).Required()
      .Text("agent").MaxLength(128)
      .Text("summary").Personal().MaxLength(4000)
      .Text("visit_id", Format::kRef)  // soft link to the visit it records, if any
      .Text("event_id", Format::kRef);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec RelationshipEvaluations() {
  TableBuilder b("relationship_evaluations", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Text("period").Required().MaxLength(32)  // "2026-Q3", "2026-H1", "2026"
      .Text("scores", Format::kJsonObject).Required().MaxLength(4000)  // {"criterion": 1..5}
      .Int("total", Format::kCount)  // sum of scores, kept by the table rule
      .Text("evaluator").MaxLength(128)
      .Enum("status", {"draft", "submitted", "approved", "rejected"}).Required()
      .Text("feedback").Merge(MergePolicy::kTextMerge).MaxLength(4000)
      .Text("reviewed_by").MaxLength(128)
      .Int("reviewed_at", Format::kTimestamp);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec InvestmentHoldings() {
  TableBuilder b("investment_holdings", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Text("policy_id", Format::kRef)
      .Text("product").Required().MaxLength(200)
      .Text("purchase_date", Format::kDate).Required()
      .Int("amount", Format::kMoney).Required()  // fen
      .Real("expected_return_pct")               // yearly, -100 .. 1000
      .Real("stop_loss_pct")                     // loss that triggers a review, 0 .. 100
      .Enum("risk_preference", {"conservative", "moderate", "balanced", "growth", "aggressive"}).Required()
      .Int("current_value", Format::kMoney)
      .Text("valued_on", Format::kDate)
      .Text("notes").Merge(MergePolicy::kTextMerge).MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec Events() {
  TableBuilder b("events", OwnedBy("owner_agent", "team"));
  b.Since(kV2)
      .Text("owner_agent").Required().MaxLength(128)
      .Text("team").MaxLength(128)
      .Text("title").Required().MaxLength(400)
      .Enum("kind", {"seminar", "appreciation_day", "product_launch", "workshop", "other"}).Required()
      .Text("event_date", Format::kDate).Required()
      .Text("location").MaxLength(400)
      .Int("capacity", Format::kCount)
      .Text("notes").Merge(MergePolicy::kTextMerge).MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec EventInvitations() {
  TableBuilder b("event_invitations", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Text("event_id", Format::kRef).Required()  // soft: the event is the agent's row
      .Enum("status", {"invited", "accepted", "declined", "attended", "no_show"}).Required()
      .Int("guests", Format::kCount)
      .Int("responded_at", Format::kTimestamp);
  Stamps(b);
  return std::move(b).Build();
}

}  // namespace

std::vector<TableSpec> RelationsTables() {
  return {RelationshipCards(), RelationshipLogs(), RelationshipEvaluations(), InvestmentHoldings(), Events(),
          EventInvitations()};
}

}  // namespace fieldbook
