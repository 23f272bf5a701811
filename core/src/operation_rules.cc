// Rules of the customer-operation tables, for writes that come through the Archive
// directly (the C API's generic methods, imports) as well as through operation.h.
#include <algorithm>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "operation_rules.h"

namespace fieldbook {
namespace {

Status ConfigRule(Store&, RowValues& row, const RowValues*, const WriteContext&) {
  const int64_t high = row.Int("high_premium").value_or(DefaultOperationConfig().high_premium);
  const int64_t general = row.Int("general_premium").value_or(DefaultOperationConfig().general_premium);
  if (general > high) return Status(ErrorCode::kInvalidField, "must not exceed high_premium", "general_premium");
  if (auto strategies = row.Text("strategies")) {
    // Same checks as SaveOperationConfig: names of tiers and segments, day ranges.
    OperationConfig scratch = DefaultOperationConfig();
    scratch.team = row.Text("team").value_or("");
    rapidjson::Document doc;
    doc.Parse(strategies->data(), strategies->size());
    if (doc.HasParseError() || !doc.IsObject()) return Status(ErrorCode::kInvalidField, "must be an object", "strategies");
    FB_RETURN_IF_ERROR(ApplyStrategies(doc, scratch));
  }
  return Status::Ok();
}

Status QuotaRule(Store&, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  if (!before && !ctx.team.empty()) row.SetDefault("team", Value{ctx.team});
  return Status::Ok();
}

Status OverrideRule(Store&, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  if (!before) {
    row.SetDefault("agent", Value{ctx.agent});
    row.SetDefault("set_at", Value{ctx.now_ms});
  }
  const std::string value = row.Text("value").value_or("");
  if (value.empty()) return Status::Ok();  // a cleared override
  const bool segment = row.Text("field") == "needs_segment";
  const bool known = segment ? std::find(std::begin(kSegments), std::end(kSegments), value) != std::end(kSegments)
                             : std::find(std::begin(kTiers), std::end(kTiers), value) != std::end(kTiers);
  if (!known) {
    return Status(ErrorCode::kInvalidField,
                  segment ? "not a needs segment (family, professional, elderly, sme)"
                          : "not a value tier (high, potential, general, low)",
                  "value");
  }
  return Status::Ok();
}

Status LifecycleEventRule(Store&, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  if (!before) {
    row.SetDefault("agent", Value{ctx.agent});
    row.SetDefault("occurred_at", Value{ctx.now_ms});
  }
  return Status::Ok();
}

Status HolidayRule(Store&, RowValues& row, const RowValues*, const WriteContext&) {
  const std::string name = row.Text("name").value_or("");
  if (name.find_first_not_of(" \t") == std::string::npos) {
    return Status(ErrorCode::kInvalidField, "must not be blank", "name");
  }
  return Status::Ok();
}

}  // namespace

void AddOperationRules(std::map<std::string, TableRule, std::less<>>& rules) {
  rules.emplace("operation_config", ConfigRule);
  rules.emplace("agent_quotas", QuotaRule);
  rules.emplace("classification_overrides", OverrideRule);
  rules.emplace("lifecycle_events", LifecycleEventRule);
  rules.emplace("holidays", HolidayRule);
}

}  // namespace fieldbook
