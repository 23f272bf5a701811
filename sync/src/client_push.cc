// SyncClient: turning pending local changes into PushChanges.
//
// Set-based: the pending items of a batch, their rows' current values and the versions of
// created rows' cells are read with one query each per table, not one per row.
#include <algorithm>
#include <map>

#include "fieldbook/core/json.h"
#include "fieldbook/core/records.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/client.h"

namespace fieldbook::sync {
namespace {

struct PendingCell {
  Hlc hlc;
  int64_t seen;
  std::optional<Value> base;
};

struct PendingRow {
  int64_t order = 0;  // smallest local_seq: parents were written before their children
  bool create = false;
  bool deleted = false;
  Hlc row_hlc = 0;
  int64_t row_seen = 0;
  std::map<std::string, PendingCell> cells;
};

std::string IdsJson(const std::vector<std::string>& ids) {
  rapidjson::Document doc(rapidjson::kArrayType);
  for (const auto& id : ids) {
    doc.PushBack(rapidjson::Value(id.c_str(), static_cast<rapidjson::SizeType>(id.size()), doc.GetAllocator()),
                 doc.GetAllocator());
  }
  return ToJson(doc);
}

}  // namespace

Result<std::vector<PushChange>> SyncClient::CollectChanges(int64_t boundary) {
  std::map<std::string, std::map<std::string, PendingRow>> by_table;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT tbl, row_id, hlc, deleted, local_seq, seen FROM fb_rows WHERE pending = 1 AND local_seq <= ?1"));
    st.Bind(1, boundary);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PendingRow& p = by_table[st.String(0)][st.String(1)];
      p.row_hlc = st.Int(2);
      p.deleted = st.Int(3) != 0;
      p.create = !p.deleted;
      p.order = st.Int(4);
      p.row_seen = st.Int(5);
    }
  }
  {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT tbl, row_id, col, hlc, seen, base_value, local_seq FROM fb_cells WHERE pending = 1 AND local_seq <= ?1"));
    st.Bind(1, boundary);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      auto& rows = by_table[st.String(0)];
      auto [it, fresh] = rows.try_emplace(st.String(1));
      PendingRow& p = it->second;
      p.order = fresh ? st.Int(6) : std::min(p.order, st.Int(6));
      PendingCell cell{st.Int(3), st.Int(4), std::nullopt};
      if (!st.IsNull(5)) cell.base = st.GetValue(5);
      p.cells[st.String(2)] = std::move(cell);
    }
  }

  std::vector<std::pair<int64_t, PushChange>> ordered;
  for (auto& [table, rows] : by_table) {
    const TableSpec* spec = FindSyncedTable(store_, table);
    if (!spec) continue;  // a table this build no longer knows: nothing to read
    // Current values of the rows to create or update, and versions of created rows' cells.
    std::vector<std::string> live, created;
    for (const auto& [id, p] : rows) {
      if (!p.deleted) live.push_back(id);
      if (p.create) created.push_back(id);
    }
    std::map<std::string, RowValues> values;
    if (!live.empty()) {
      FB_ASSIGN_OR_RETURN(Statement read, store_.Prepare(SelectRowSql(*spec) +
                                                          " WHERE id IN (SELECT value FROM json_each(?1))"));
      read.Bind(1, IdsJson(live));
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool row, read.Step());
        if (!row) break;
        RowValues v = ReadRow(*spec, read);
        std::string id = v.id;
        values.emplace(std::move(id), std::move(v));
      }
    }
    std::map<std::string, std::map<std::string, Hlc>> created_versions;
    if (!created.empty()) {
      // Cells edited after creation within this batch carry their own versions; edits after
      // the boundary travel in a later batch with theirs. Every retry of a batch therefore
      // carries the same versions.
      FB_ASSIGN_OR_RETURN(Statement later, store_.Prepare(
          "SELECT row_id, col, hlc FROM fb_cells WHERE tbl = ?1 AND local_seq <= ?2 "
          "AND row_id IN (SELECT value FROM json_each(?3))"));
      later.Bind(1, table).Bind(2, boundary).Bind(3, IdsJson(created));
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool row, later.Step());
        if (!row) break;
        created_versions[later.String(0)][later.String(1)] = later.Int(2);
      }
    }
    for (auto& [id, p] : rows) {
      PushChange change;
      change.table = table;
      change.id = id;
      if (p.deleted) {
        change.op = PushChange::Op::kDelete;
        change.hlc = p.row_hlc;
        change.seen = p.row_seen;
        ordered.emplace_back(p.order, std::move(change));
        continue;
      }
      auto v = values.find(id);
      if (v == values.end()) continue;  // deleted after the boundary: the tombstone goes in a later batch
      const RowValues& current = v->second;
      if (p.create) {
        change.op = PushChange::Op::kCreate;
        change.hlc = p.row_hlc;
        change.seen = p.row_seen;
        const auto found = created_versions.find(id);
        const std::map<std::string, Hlc>* versions = found != created_versions.end() ? &found->second : nullptr;
        change.cells.reserve(spec->columns.size());
        for (size_t i = 0; i < spec->columns.size(); ++i) {
          if (IsNull(current.values[i])) continue;  // a creation lists its non-null cells
          PushCell cell;
          cell.column = spec->columns[i].name;
          cell.value = current.values[i];
          cell.hlc = p.row_hlc;
          if (versions) {
            auto ver = versions->find(cell.column);
            if (ver != versions->end()) cell.hlc = ver->second;
          }
          cell.seen = p.row_seen;
          change.cells.push_back(std::move(cell));
        }
        if (change.cells.empty()) continue;
      } else {
        change.op = PushChange::Op::kUpdate;
        bool first = true;
        for (auto& [col, pc] : p.cells) {
          const int index = spec->IndexOf(col);
          if (index < 0) continue;
          if (first) change.hlc = pc.hlc, change.seen = pc.seen, first = false;
          PushCell cell;
          cell.column = col;
          cell.value = current.values[static_cast<size_t>(index)];
          cell.hlc = pc.hlc;
          cell.seen = pc.seen;
          cell.base = std::move(pc.base);
          change.cells.push_back(std::move(cell));
        }
        if (change.cells.empty()) continue;
      }
      ordered.emplace_back(p.order, std::move(change));
    }
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PushChange> out;
  out.reserve(ordered.size());
  for (auto& [order, change] : ordered) out.push_back(std::move(change));
  return out;
}

}  // namespace fieldbook::sync
