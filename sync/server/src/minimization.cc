#include "fieldbook/server/minimization.h"

#include "fieldbook/core/json.h"

namespace fieldbook::server {

bool SeesSensitive(const Scope& scope, const RootInfo& root) {
  switch (scope.role) {
    case Role::kAdmin: return true;
    case Role::kAgent: return true;  // an agent's scope holds only its own and ownerless roots
    case Role::kLead: return root.owner.empty() || root.owner == scope.agent;
  }
  return false;
}

bool IsWithheldColumn(const ColumnSpec& column) { return column.sensitivity == Sensitivity::kSensitive; }

bool HasWithheldColumns(const TableSpec& table) {
  for (const auto& c : table.columns) {
    if (IsWithheldColumn(c)) return true;
  }
  return false;
}

Result<std::string> WithholdSensitive(const TableSpec& table, std::string_view body) {
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(body, "stored row"));
  if (!doc.IsObject()) return Status(ErrorCode::kCorrupt, "stored row is not an object");
  bool changed = false;
  for (const char* part : {"c", "x"}) {
    auto it = doc.FindMember(part);
    if (it == doc.MemberEnd() || !it->value.IsObject()) continue;
    for (const auto& c : table.columns) {
      if (IsWithheldColumn(c) && it->value.RemoveMember(c.name.c_str())) changed = true;
    }
  }
  if (!changed) return std::string(body);
  return ToJson(doc);
}

}  // namespace fieldbook::server
