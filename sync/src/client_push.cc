// SyncClient: turning pending local changes into PushChanges.
#include <algorithm>
#include <map>

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

}  // namespace

Result<std::vector<PushChange>> SyncClient::CollectChanges(int64_t boundary) {
  std::map<std::pair<std::string, std::string>, PendingRow> rows;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT tbl, row_id, hlc, deleted, local_seq, seen FROM fb_rows WHERE pending = 1 AND local_seq <= ?1"));
    st.Bind(1, boundary);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PendingRow& p = rows[{st.String(0), st.String(1)}];
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
      auto key = std::make_pair(st.String(0), st.String(1));
      auto it = rows.find(key);
      PendingRow& p = it != rows.end() ? it->second : rows[key];
      if (it == rows.end()) p.order = st.Int(6);
      p.order = std::min(p.order, st.Int(6));
      PendingCell cell{st.Int(3), st.Int(4), std::nullopt};
      if (!st.IsNull(5)) cell.base = st.GetValue(5);
      p.cells[st.String(2)] = std::move(cell);
    }
  }

  std::vector<std::pair<int64_t, PushChange>> ordered;
  ordered.reserve(rows.size());
  for (auto& [key, p] : rows) {
    const auto& [table, id] = key;
    const TableSpec* spec = FindSyncedTable(store_, table);
    if (!spec) continue;  // a table this build no longer knows: nothing to read
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
    FB_ASSIGN_OR_RETURN(Statement read, store_.Prepare(SelectRowSql(*spec) + " WHERE id = ?1"));
    read.Bind(1, id);
    FB_ASSIGN_OR_RETURN(bool found, read.Step());
    if (!found) continue;  // deleted after the boundary: the tombstone goes in a later batch
    const RowValues values = ReadRow(*spec, read);
    if (p.create) {
      change.op = PushChange::Op::kCreate;
      change.hlc = p.row_hlc;
      change.seen = p.row_seen;
      // Cells edited after creation within this batch carry their own versions; edits after
      // the boundary travel in a later batch with theirs. Every retry of a batch therefore
      // carries the same versions.
      FB_ASSIGN_OR_RETURN(Statement later, store_.Prepare(
          "SELECT col, hlc FROM fb_cells WHERE tbl = ?1 AND row_id = ?2 AND local_seq <= ?3"));
      later.Bind(1, table).Bind(2, id).Bind(3, boundary);
      std::map<std::string, Hlc> versions;
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool more, later.Step());
        if (!more) break;
        versions[later.String(0)] = later.Int(1);
      }
      for (size_t i = 0; i < spec->columns.size(); ++i) {
        PushCell cell;
        cell.column = spec->columns[i].name;
        cell.value = values.values[i];
        auto v = versions.find(cell.column);
        cell.hlc = v != versions.end() ? v->second : p.row_hlc;
        cell.seen = p.row_seen;
        change.cells.push_back(std::move(cell));
      }
    } else {
      change.op = PushChange::Op::kUpdate;
      bool first = true;
      for (auto& [col, pc] : p.cells) {
        const int index = spec->IndexOf(col);
        if (index < 0) continue;
        if (first) change.hlc = pc.hlc, change.seen = pc.seen, first = false;
        PushCell cell;
        cell.column = col;
        cell.value = values.values[static_cast<size_t>(index)];
        cell.hlc = pc.hlc;
        cell.seen = pc.seen;
        cell.base = std::move(pc.base);
        change.cells.push_back(std::move(cell));
      }
      if (change.cells.empty()) continue;
    }
    ordered.emplace_back(p.order, std::move(change));
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PushChange> out;
  out.reserve(ordered.size());
  for (auto& [order, change] : ordered) out.push_back(std::move(change));
  return out;
}

}  // namespace fieldbook::sync
