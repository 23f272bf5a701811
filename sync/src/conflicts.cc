#include "fieldbook/sync/conflicts.h"

#include "fieldbook/core/json.h"
#include "fieldbook/core/records.h"
#include "fieldbook/sync/change_capture.h"

namespace fieldbook::sync {
namespace {

// A stored cell value from its JSON text as the server recorded it.
Result<Value> RawValue(const rapidjson::Value& v) {
  if (v.IsNull()) return Value{};
  if (v.IsString()) return Value{std::string(v.GetString(), v.GetStringLength())};
  if (v.IsInt64()) return Value{v.GetInt64()};
  if (v.IsDouble()) return Value{v.GetDouble()};
  return Status(ErrorCode::kCorrupt, "conflict record holds a value of unexpected type");
}

}  // namespace

Result<std::string> ListConflictsJson(Store& store, bool include_resolved) {
  const TableSpec& t = ConflictsTable();
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(SelectRowSql(t) +
                                                  (include_resolved ? std::string() : " WHERE coalesce(resolved, 0) = 0") +
                                                  " ORDER BY detected_at DESC, id"));
  return RowsJson(t, st);
}

Resolution ParseKeep(std::string_view keep) {
  if (keep == "winner") return {Resolution::Keep::kWinner, ""};
  if (keep == "loser") return {Resolution::Keep::kLoser, ""};
  auto parsed = ParseJson(keep, "--keep");
  if (parsed.ok()) return {Resolution::Keep::kValue, std::string(keep)};
  // Bare text is a string value.
  rapidjson::Value s(keep.data(), static_cast<rapidjson::SizeType>(keep.size()));
  return {Resolution::Keep::kValue, ToJson(s)};
}

Result<std::string> ResolveConflict(Store& store, std::string_view conflict_id, const Resolution& resolution,
                                    std::string_view resolved_by) {
  Records records(store, {}, {&ConflictsTable()});
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  FB_ASSIGN_OR_RETURN(std::optional<RowValues> conflict, records.Get("conflicts", conflict_id));
  if (!conflict) return Status(ErrorCode::kNotFound, "no conflict with id " + std::string(conflict_id));
  const std::string table = conflict->Text("tbl").value_or("");
  const std::string row_id = conflict->Text("row_id").value_or("");
  const std::optional<std::string> column = conflict->Text("col");
  const TableSpec* spec = FindSyncedTable(store, table);
  if (!spec) return Status(ErrorCode::kUnavailable, "conflict concerns table " + table + ", unknown to this version");
  const int64_t now = store.env().NowMs();
  WriteContext ctx{std::string(resolved_by), "", now};
  std::string result_id = row_id;
  std::string restored;

  if (resolution.keep != Resolution::Keep::kWinner) {
    FB_ASSIGN_OR_RETURN(std::optional<RowValues> target, records.Get(table, row_id));
    if (column) {
      const ColumnSpec* col = spec->Find(*column);
      if (!col) return Status(ErrorCode::kUnavailable, "column " + *column + " is unknown to this version");
      if (!target) {
        return Status(ErrorCode::kNotFound, table + " row " + row_id + " no longer exists; resolve the deletion first");
      }
      RowValues patch(*spec);
      if (resolution.keep == Resolution::Keep::kLoser) {
        FB_ASSIGN_OR_RETURN(rapidjson::Document loser, ParseJson(conflict->Text("loser_value").value_or("null"), "loser_value"));
        FB_ASSIGN_OR_RETURN(Value v, RawValue(loser));
        patch.Set(*column, std::move(v));
      } else {
        FB_ASSIGN_OR_RETURN(rapidjson::Document value, ParseJson(resolution.value_json, "--keep"));
        auto v = ColumnValueFromJson(*col, value);
        if (!v.ok()) return v.status().WithFieldPrefix(*column);
        patch.Set(*column, std::move(v).value());
      }
      FB_RETURN_IF_ERROR(records.Update(table, row_id, patch, ctx));
    } else {
      if (resolution.keep == Resolution::Keep::kValue) {
        return Status(ErrorCode::kInvalidArgument, "a whole-row conflict is resolved with --keep winner or loser");
      }
      // The loser is a whole row: put its values back (on the row if it still exists,
      // otherwise on a re-created row with a new id).
      FB_ASSIGN_OR_RETURN(rapidjson::Document loser, ParseJson(conflict->Text("loser_value").value_or("{}"), "loser_value"));
      if (!loser.IsObject()) {
        return Status(ErrorCode::kInvalidArgument, "this conflict records a deletion; there is nothing to restore");
      }
      RowValues row(*spec);
      for (auto it = loser.MemberBegin(); it != loser.MemberEnd(); ++it) {
        const int index = spec->IndexOf(it->name.GetString());
        if (index < 0) continue;
        FB_ASSIGN_OR_RETURN(Value v, RawValue(it->value));
        row.values[static_cast<size_t>(index)] = std::move(v);
        row.present[static_cast<size_t>(index)] = 1;
      }
      if (target) {
        for (const auto& col : spec->columns) {
          if (col.merge == MergePolicy::kImmutable || col.merge == MergePolicy::kServerOnly) {
            row.present[static_cast<size_t>(spec->IndexOf(col.name))] = 0;
          }
        }
        FB_RETURN_IF_ERROR(records.Update(table, row_id, row, ctx));
      } else {
        // Parents re-created earlier from their own conflicts are referenced by their new ids.
        for (const auto& col : spec->columns) {
          if (col.references.empty() || !row.Text(col.name)) continue;
          const std::string parent = *row.Text(col.name);
          FB_ASSIGN_OR_RETURN(bool exists, records.Exists(col.references, parent));
          if (exists) continue;
          FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
              "SELECT restored_id FROM conflicts WHERE row_id = ?1 AND restored_id IS NOT NULL LIMIT 1"));
          st.Bind(1, parent);
          FB_ASSIGN_OR_RETURN(bool found, st.Step());
          if (!found) {
            return Status(ErrorCode::kNotFound, "its " + col.references + " " + parent +
                                                    " was deleted too; restore that first", col.name);
          }
          row.Set(col.name, Value{st.String(0)});
        }
        FB_ASSIGN_OR_RETURN(restored, records.Insert(std::move(row), ctx));
        result_id = restored;
      }
    }
  }
  RowValues mark(ConflictsTable());
  mark.Set("resolved", Value{int64_t{1}});
  mark.Set("resolution", Value{std::string(resolution.keep == Resolution::Keep::kWinner  ? "winner"
                                           : resolution.keep == Resolution::Keep::kLoser ? "loser"
                                                                                          : "value")});
  if (resolution.keep == Resolution::Keep::kValue) mark.Set("resolved_value", Value{resolution.value_json});
  if (!restored.empty()) mark.Set("restored_id", Value{restored});
  mark.Set("resolved_at", Value{now});
  mark.Set("resolved_by", Value{std::string(resolved_by)});
  FB_RETURN_IF_ERROR(records.Update("conflicts", conflict_id, mark, ctx));
  FB_RETURN_IF_ERROR(txn.Commit());
  return result_id;
}

}  // namespace fieldbook::sync
