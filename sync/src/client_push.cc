// SyncClient: turning pending local changes into PushChanges.
//
// The pending items of a batch and the versions of created rows' cells are read with one
// query each per table; each row's current values are then read and encoded in local
// write order, one change at a time, so memory follows the encoded batch, not its rows.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

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
  std::string root;  // fb_rows.root_id
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

Status SyncClient::CollectChanges(int64_t after, int64_t boundary, const std::function<void(PushChange&&)>& sink) {
  std::map<std::string, std::map<std::string, PendingRow>> by_table;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT tbl, row_id, hlc, deleted, local_seq, seen FROM fb_rows WHERE pending = 1 AND local_seq > ?2 "
        "AND local_seq <= ?1"));
    st.Bind(1, boundary).Bind(2, after);
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
        "SELECT c.tbl, c.row_id, c.col, c.hlc, c.seen, c.base_value, c.local_seq, r.root_id FROM fb_cells c "
        "LEFT JOIN fb_rows r ON r.tbl = c.tbl AND r.row_id = c.row_id WHERE c.pending = 1 AND c.local_seq > ?2 "
        "AND c.local_seq <= ?1"));
    st.Bind(1, boundary).Bind(2, after);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      auto& rows = by_table[st.String(0)];
      auto [it, fresh] = rows.try_emplace(st.String(1));
      PendingRow& p = it->second;
      p.order = fresh ? st.Int(6) : std::min(p.order, st.Int(6));
      if (p.root.empty() && !st.IsNull(7)) p.root = st.String(7);
      PendingCell cell{st.Int(3), st.Int(4), std::nullopt};
      if (!st.IsNull(5)) cell.base = st.GetValue(5);
      p.cells[st.String(2)] = std::move(cell);
    }
  }

  // Rows are visited in local write order and each change is built from a point read of
  // its row and handed on: a batch is never held whole, only its encoding.
  struct TableRead {
    const TableSpec* spec = nullptr;
    std::optional<Statement> read;
    std::map<std::string, std::map<std::string, Hlc>> created_versions;
  };
  std::map<std::string, TableRead> reads;
  std::vector<std::tuple<int64_t, const std::string*, const std::string*, PendingRow*>> order;
  for (auto& [table, rows] : by_table) {
    const TableSpec* spec = FindSyncedTable(store_, table);
    if (!spec) continue;  // a table this build no longer knows: nothing to read
    TableRead& tr = reads[table];
    tr.spec = spec;
    std::vector<std::string> created;
    for (auto& [id, p] : rows) {
      order.emplace_back(p.order, &table, &id, &p);
      if (p.create) created.push_back(id);
    }
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
        tr.created_versions[later.String(0)][later.String(1)] = later.Int(2);
      }
    }
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  for (const auto& [local_order, table, id, pending] : order) {
    PendingRow& p = *pending;
    TableRead& tr = reads[*table];
    const TableSpec* spec = tr.spec;
    PushChange change;  // handed on whole: the writer keeps it until its block is written
    change.table = *table;
    change.id = *id;
    if (p.deleted) {
      change.op = PushChange::Op::kDelete;
      change.hlc = p.row_hlc;
      change.seen = p.row_seen;
      sink(std::move(change));
      continue;
    }
    if (!tr.read) {
      FB_ASSIGN_OR_RETURN(Statement read, store_.Prepare(SelectRowSql(*spec) + " WHERE id = ?1"));
      tr.read.emplace(std::move(read));
    }
    Statement& read = *tr.read;
    read.Reset();
    read.Bind(1, *id);
    FB_ASSIGN_OR_RETURN(bool found, read.Step());
    if (!found) continue;  // deleted after the boundary: the tombstone goes in a later batch
    if (p.create) {
      change.op = PushChange::Op::kCreate;
      change.hlc = p.row_hlc;
      change.seen = p.row_seen;
      const auto versions_it = tr.created_versions.find(*id);
      const std::map<std::string, Hlc>* versions =
          versions_it != tr.created_versions.end() ? &versions_it->second : nullptr;
      change.cells.reserve(spec->columns.size());
      for (size_t i = 0; i < spec->columns.size(); ++i) {
        if (read.IsNull(static_cast<int>(i) + 1)) continue;  // a creation lists its non-null cells
        Value value = ReadCell(*spec, read, i);
        if (IsNull(value)) continue;
        PushCell& cell = change.cells.emplace_back();
        cell.column = spec->columns[i].name;
        cell.value = std::move(value);
        cell.hlc = p.row_hlc;
        if (versions) {
          auto ver = versions->find(cell.column);
          if (ver != versions->end()) cell.hlc = ver->second;
        }
        cell.seen = p.row_seen;
      }
    } else {
      change.op = PushChange::Op::kUpdate;
      if (spec->partition.kind == PartitionKind::kRoot) change.root = p.root;
      bool first = true;
      for (auto& [col, pc] : p.cells) {
        const int index = spec->IndexOf(col);
        if (index < 0) continue;
        if (first) change.hlc = pc.hlc, change.seen = pc.seen, first = false;
        PushCell& cell = change.cells.emplace_back();
        cell.column = col;
        cell.value = ReadCell(*spec, read, static_cast<size_t>(index));
        cell.hlc = pc.hlc;
        cell.seen = pc.seen;
        cell.base = std::move(pc.base);
      }
    }
    if (!change.cells.empty()) sink(std::move(change));
  }
  return Status::Ok();
}

}  // namespace fieldbook::sync
