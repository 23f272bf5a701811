// Service-quality tables: complaints with their handling steps, satisfaction survey
// templates and answers, and claims-assistance steps with deadlines.
#include "fieldbook/core/service_quality.h"

#include "fieldbook/core/archive_schema.h"

namespace fieldbook {
namespace {

constexpr int kV2 = 2;

TableSpec Complaints() {
  TableBuilder b("complaints", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Enum("channel", {"phone", "visit", "wechat", "email", "letter", "app", "hotline", "regulator", "other"})
      .Required()
      .Enum("category", {"service", "sales_practice", "claim", "policy_admin", "billing", "product", "other"})
      .Required()
      .Enum("severity", {"low", "medium", "high", "critical"}).Required()
      .Int("received_at", Format::kTimestamp).Required()
      .Int("sla_deadline", Format::kTimestamp)  // computed from severity and received_at
      .Text("description").Merge(MergePolicy::kTextMerge).Personal().MaxLength(20000)
      .Text("handler").MaxLength(128)
      .Enum("status", {"open", "in_progress", "escalated", "resolved", "closed"}).Required()
      .Int("escalation_level", Format::kCount)
      .Int("escalated_at", Format::kTimestamp)
      .Text("resolution").Merge(MergePolicy::kTextMerge).MaxLength(20000)
      .Int("resolved_at", Format::kTimestamp)
      .Int("satisfaction", Format::kCount);  // 1 (very dissatisfied) .. 5 (very satisfied)
  Stamps(b);
  return std::move(b).Build();
}

TableSpec ComplaintSteps() {
  TableBuilder b("complaint_steps", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Ref("complaint_id", "complaints")
      .Enum("action", {"acknowledged", "investigated", "contacted_customer", "escalated", "proposed_resolution",
                       "resolved", "reopened", "note"}).Required()
      .Int("at", Format::kTimestamp).Required()
      .Text("agent").MaxLength(128)
      .Text("note").Personal().MaxLength(4000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec SurveyTemplates() {
  TableBuilder b("survey_templates", OwnedBy("owner_agent", "team"));
  b.Since(kV2)
      .Text("owner_agent").Required().MaxLength(128)
      .Text("team").MaxLength(128)
      .Text("name").Required().MaxLength(200)
      // [{"key":"attitude","text":"...","max":5}, ...]
      .Text("questions", Format::kJsonArray).Required().MaxLength(20000)
      .Int("active", Format::kBool);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec SurveyResponses() {
  TableBuilder b("survey_responses", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Text("template_id", Format::kRef).Required()
      .Text("agent").MaxLength(128)  // the agent whose service is rated
      .Int("answered_at", Format::kTimestamp).Required()
      .Text("answers", Format::kJsonObject).Required().MaxLength(20000)  // {"key": score}
      .Real("score")  // 0..100, computed from the answers and the template's scales
      .Text("visit_id", Format::kRef)
      .Text("complaint_id", Format::kRef)
      .Text("comment").Personal().MaxLength(4000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec ClaimAssists() {
  TableBuilder b("claim_assists", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Ref("claim_id", "claims")
      .Enum("step", {"reported", "documents_listed", "documents_collected", "submitted", "insurer_review",
                     "decision", "paid", "closed", "other"}).Required()
      .Text("due_date", Format::kDate).Required()
      .Text("done_on", Format::kDate)
      .Text("agent").MaxLength(128)
      .Text("notes").Merge(MergePolicy::kTextMerge).MaxLength(4000);
  Stamps(b);
  return std::move(b).Build();
}

}  // namespace

std::vector<TableSpec> ServiceQualityTables() {
  return {Complaints(), ComplaintSteps(), SurveyTemplates(), SurveyResponses(), ClaimAssists()};
}

}  // namespace fieldbook
