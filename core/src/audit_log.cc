// Recording and listing access audit rows.
#include <sqlite3.h>

#include <algorithm>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/audit.h"
#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/json.h"

namespace fieldbook {
namespace {

constexpr const char* kPurposes[] = {"service", "sales",      "claim",    "complaint", "review",
                                     "analytics", "backup", "compliance", "transfer", "other"};
constexpr int64_t kCstOffsetMs = 8LL * 3600 * 1000;

}  // namespace

Status CheckPurpose(std::string_view purpose) {
  for (const char* p : kPurposes) {
    if (purpose == p) return Status::Ok();
  }
  std::string all;
  for (const char* p : kPurposes) all += (all.empty() ? "" : ", ") + std::string(p);
  return Status(ErrorCode::kInvalidArgument, "must be one of " + all, "purpose");
}

std::string DefaultPurpose(std::string_view action) {
  if (action == "export") return "backup";
  return "service";
}

bool HoldsPersonalData(const TableSpec& table) {
  return std::any_of(table.columns.begin(), table.columns.end(),
                     [](const ColumnSpec& c) { return c.sensitivity != Sensitivity::kNone; });
}

Status RecordAccess(Store& store, const AccessRecord& r) {
  const std::string purpose = r.purpose.empty() ? DefaultPurpose(r.action) : r.purpose;
  FB_RETURN_IF_ERROR(CheckPurpose(purpose));
  // A read-only handle cannot write the row (see guarantee 4).
  if (sqlite3_db_readonly(store.handle(), "main") == 1) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(store));
  const int64_t count = r.count >= 0 ? r.count : static_cast<int64_t>(r.ids.size());
  std::string ids;
  if (!r.ids.empty() && r.ids.size() <= kMaxAuditIds) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartArray();
    for (const auto& id : r.ids) w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
    w.EndArray();
    ids.assign(buf.GetString(), buf.GetSize());
  }
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "INSERT INTO access_audit (id, agent, team, at, action, target, row_ids, row_count, purpose, channel) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  st.Bind(1, store.NewId()).Bind(2, profile.agent).Bind(4, store.env().NowMs()).Bind(5, r.action);
  if (profile.team.empty()) st.BindNull(3); else st.Bind(3, profile.team);
  st.Bind(6, r.target).Bind(8, count).Bind(9, purpose).Bind(10, r.channel);
  if (ids.empty()) st.BindNull(7); else st.Bind(7, ids);
  return st.Run();
}

void IdsFromRows(std::string_view rows_json, AccessRecord& record) {
  auto doc = ParseJson(rows_json, "rows");
  if (!doc.ok() || !doc->IsArray()) return;
  record.count = static_cast<int64_t>(doc->Size());
  if (doc->Size() > kMaxAuditIds) return;
  for (const auto& row : doc->GetArray()) {
    if (row.IsObject() && row.HasMember("id") && row["id"].IsString()) record.ids.emplace_back(row["id"].GetString());
  }
}

Result<std::string> ListAccessJson(Store& store, std::string_view from, std::string_view to) {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  if (!from.empty()) {
    auto d = ParseDate(from);
    if (!d.ok()) return Status(ErrorCode::kInvalidArgument, "must be a date YYYY-MM-DD", "from");
    lo = MsOfDate(*d) - kCstOffsetMs;
  }
  if (!to.empty()) {
    auto d = ParseDate(to);
    if (!d.ok()) return Status(ErrorCode::kInvalidArgument, "must be a date YYYY-MM-DD", "to");
    hi = MsOfDate(d->AddDays(1)) - kCstOffsetMs - 1;
  }
  if (lo > hi) return Status(ErrorCode::kInvalidArgument, "--from is after --to", "from");
  const TableSpec* t = store.registry().Find(kAccessAuditTable);
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(SelectRowSql(*t) + " WHERE at BETWEEN ?1 AND ?2 ORDER BY at, id"));
  st.Bind(1, lo).Bind(2, hi);
  return RowsJson(*t, st);
}

Status AuditTableRule(Store&, RowValues&, const RowValues*, const WriteContext&) {
  return Status(ErrorCode::kReadOnlyField, "access_audit rows are written by the access audit only", "access_audit");
}

}  // namespace fieldbook
