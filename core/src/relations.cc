// Relationship rules: the card's deterministic id, evaluation totals and approval by a
// lead, and range checks of the relationship tables.
#include <openssl/sha.h>

#include <cmath>

#include "fieldbook/core/ids.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/relations.h"
#include "archive_rules.h"

namespace fieldbook {
namespace {

constexpr std::string_view kRoleKey = "role";

Status RealInRange(const RowValues& row, const char* column, double lo, double hi) {
  const Value* v = row.Get(column);
  if (v == nullptr) return Status::Ok();
  const double d = std::holds_alternative<double>(*v) ? std::get<double>(*v) : static_cast<double>(*AsInt(*v));
  if (!(d >= lo && d <= hi)) {
    return Status(ErrorCode::kInvalidField, "must be between " + std::to_string(static_cast<int>(lo)) + " and " +
                                                std::to_string(static_cast<int>(hi)), column);
  }
  return Status::Ok();
}

Status CardRule(Store&, RowValues& row, const RowValues*, const WriteContext&) {
  row.SetDefault("level", Value{std::string("general")});
  FB_RETURN_IF_ERROR(InRange(row, "strength", 1, 5));
  return InRange(row, "contact_interval_days", 1, 3650);
}

Status LogRule(Store&, RowValues& row, const RowValues*, const WriteContext& ctx) {
  row.SetDefault("agent", Value{ctx.agent});
  return Status::Ok();
}

bool IsReviewer(std::string_view role) { return role == "lead" || role == "admin"; }

Status EvaluationRule(Store& store, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  row.SetDefault("status", Value{std::string("draft")});
  row.SetDefault("evaluator", Value{ctx.agent});
  if (auto scores = row.Text("scores")) {
    FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(*scores, "scores"));
    if (doc.ObjectEmpty()) return Status(ErrorCode::kInvalidField, "needs at least one criterion", "scores");
    int64_t total = 0;
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      const std::string field = std::string("scores.") + it->name.GetString();
      if (!it->value.IsInt() || it->value.GetInt() < 1 || it->value.GetInt() > 5) {
        return Status(ErrorCode::kInvalidField, "must be an integer score from 1 to 5", field);
      }
      total += it->value.GetInt();
    }
    row.Set("total", Value{total});
  }
  const std::string status = *row.Text("status");
  const std::string old_status = before ? before->Text("status").value_or("draft") : std::string("draft");
  const bool reviewed = status == "approved" || status == "rejected";
  if (reviewed && status != old_status) {
    FB_ASSIGN_OR_RETURN(std::string role, ProfileRole(store));
    if (!IsReviewer(role)) {
      return Status(ErrorCode::kInvalidField, "only a team lead approves or rejects an evaluation (this profile's role is " +
                                                  role + ")", "status");
    }
    if (old_status != "submitted") {
      return Status(ErrorCode::kInvalidField, "an evaluation is reviewed once it is submitted (it is " + old_status + ")",
                    "status");
    }
    row.Set("reviewed_by", Value{ctx.agent});
    row.Set("reviewed_at", Value{ctx.now_ms});
  } else {
    for (const char* column : {"reviewed_by", "reviewed_at"}) {
      const Value* now = row.Get(column);
      const Value* was = before ? before->Get(column) : nullptr;
      if ((now == nullptr) != (was == nullptr) || (now && *now != *was)) {
        return Status(ErrorCode::kReadOnlyField, "is recorded by the lead's approval", column);
      }
    }
  }
  if (before && old_status == "approved" && row.Text("scores") != before->Text("scores")) {
    return Status(ErrorCode::kInvalidField, "an approved evaluation's scores cannot change", "scores");
  }
  return Status::Ok();
}

Status HoldingRule(Store&, RowValues& row, const RowValues*, const WriteContext&) {
  FB_RETURN_IF_ERROR(RealInRange(row, "expected_return_pct", -100, 1000));
  return RealInRange(row, "stop_loss_pct", 0, 100);
}

Status EventRule(Store&, RowValues& row, const RowValues*, const WriteContext& ctx) {
  row.SetDefault("owner_agent", Value{ctx.agent});
  if (!ctx.team.empty()) row.SetDefault("team", Value{ctx.team});
  return Status::Ok();
}

Status InvitationRule(Store& store, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  row.SetDefault("status", Value{std::string("invited")});
  if (auto event = row.Text("event_id"); event && (!before || before->Text("event_id") != event)) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT 1 FROM events WHERE id = ?1"));
    st.Bind(1, *event);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return Status(ErrorCode::kNotFound, "no event with id " + *event, "event_id");
  }
  const std::string status = *row.Text("status");
  if (status != "invited" && (!before || before->Text("status") != row.Text("status")) && row.Get("responded_at") == nullptr) {
    row.Set("responded_at", Value{ctx.now_ms});
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ProfileRole(Store& store) {
  FB_ASSIGN_OR_RETURN(std::optional<std::string> role, store.GetSetting(kRoleKey));
  return role.value_or("agent");
}

Status SetProfileRole(Store& store, std::string_view role) {
  if (role != "agent" && role != "lead" && role != "admin") {
    return Status(ErrorCode::kInvalidArgument, "must be agent, lead or admin", "role");
  }
  return store.SetSetting(kRoleKey, role);
}

std::string RelationshipCardId(std::string_view customer_id) {
  // SHA-256 of a fixed prefix and the customer id, shaped as a version-8 UUID.
  const std::string input = "fieldbook.relationship_card:" + std::string(customer_id);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  digest[6] = static_cast<uint8_t>((digest[6] & 0x0F) | 0x80);
  digest[8] = static_cast<uint8_t>((digest[8] & 0x3F) | 0x80);
  const std::string hex = HexEncode(digest, 16);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

Result<std::string> SetRelationshipCard(Records& records, std::string_view customer_id, std::string_view json,
                                        const WriteContext& ctx) {
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  for (const char* fixed : {"id", "customer_id"}) {
    if (doc.HasMember(fixed)) return Status(ErrorCode::kReadOnlyField, "is fixed by the customer", fixed);
  }
  const TableSpec& t = records.Table("relationship_cards");
  FB_ASSIGN_OR_RETURN(RowValues row, records.FromJson(t, doc));
  const std::string id = RelationshipCardId(customer_id);
  FB_ASSIGN_OR_RETURN(bool exists, records.Exists(t.name, id));
  if (exists) {
    FB_RETURN_IF_ERROR(records.Update(t.name, id, row, ctx));
    return id;
  }
  row.id = id;
  row.Set("customer_id", Value{std::string(customer_id)});
  return records.Insert(std::move(row), ctx);
}

Status ReviewEvaluation(Records& records, std::string_view evaluation_id, bool approve, std::string_view feedback,
                        const WriteContext& ctx) {
  RowValues patch(records.Table("relationship_evaluations"));
  patch.Set("status", Value{std::string(approve ? "approved" : "rejected")});
  if (!feedback.empty()) patch.Set("feedback", Value{std::string(feedback)});
  return records.Update("relationship_evaluations", evaluation_id, patch, ctx);
}

void AddRelationsRules(std::map<std::string, TableRule, std::less<>>& rules) {
  rules.emplace("relationship_cards", CardRule);
  rules.emplace("relationship_logs", LogRule);
  rules.emplace("relationship_evaluations", EvaluationRule);
  rules.emplace("investment_holdings", HoldingRule);
  rules.emplace("events", EventRule);
  rules.emplace("event_invitations", InvitationRule);
}

}  // namespace fieldbook
