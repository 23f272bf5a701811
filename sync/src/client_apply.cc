// SyncClient: applying pulled pages.
//
// The server's row is the truth for every cell this device has not changed since it last
// pushed; cells with unpushed local edits keep the local value (the push decides).
// New rows are staged and inserted table by table in one statement each, so the
// full-text index is updated in bulk. Rows whose parent has not arrived, and deletions that
// would remove unpushed local edits, wait in fb_stash until they can be applied.
#include <algorithm>
#include <map>
#include <set>

#include "fieldbook/core/json.h"
#include "fieldbook/core/records.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/client.h"

namespace fieldbook::sync {
namespace {

using RowKey = std::pair<std::string, std::string>;

struct PageApplier {
  Store& store;
  std::vector<const TableSpec*> tables;
  std::map<std::string, std::set<std::string>> staged;  // table -> ids staged in this page
  std::set<std::string> stage_tables_created;
  Hlc max_hlc = 0;
  int64_t applied = 0;

  Result<bool> RowExists(const std::string& table, const std::string& id) {
    if (staged[table].count(id)) return true;
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT 1 FROM " + QuoteIdent(table) + " WHERE id = ?1"));
    st.Bind(1, id);
    return st.Step();
  }

  // Items of this row's root that still wait to be pushed: the row must not be removed
  // under them, or the edits would be lost before the server could record them.
  Result<bool> RootHasPending(const std::string& root) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT EXISTS (SELECT 1 FROM fb_rows WHERE root_id = ?1 AND pending = 1) OR EXISTS ("
        "SELECT 1 FROM fb_cells c JOIN fb_rows r ON r.tbl = c.tbl AND r.row_id = c.row_id "
        "WHERE r.root_id = ?1 AND c.pending = 1)"));
    st.Bind(1, root);
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    return row && st.Int(0) == 1;
  }

  std::string RootOf(const TableSpec& t, const WireRow& row) {
    auto cell = [&](const std::string& col) -> std::string {
      for (const auto& [c, v] : row.cells) {
        if (c == col && AsText(v)) return *AsText(v);
      }
      return {};
    };
    switch (t.partition.kind) {
      case PartitionKind::kSelf: return row.id;
      case PartitionKind::kRoot: return cell(t.partition.root_column);
      case PartitionKind::kTeam: return "team:" + cell(t.partition.team_column);
      case PartitionKind::kTenant: return "tenant";
    }
    return row.id;
  }

  Status Stash(const TableSpec& t, const WireRow& row, const std::string& root) {
    SyncResponse holder;
    holder.rows.push_back(row);
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "INSERT INTO fb_stash(tbl, row_id, root_id, body) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(tbl, row_id) DO UPDATE SET root_id = excluded.root_id, body = excluded.body"));
    return st.Bind(1, t.name).Bind(2, row.id).Bind(3, root).Bind(4, EncodeResponse(holder)).Run();
  }

  Status WriteVersions(const TableSpec& t, const WireRow& row, const std::string& root,
                       const std::set<std::string>& pending_cols) {
    FB_ASSIGN_OR_RETURN(Statement meta, store.Prepare(
        "INSERT INTO fb_rows(tbl, row_id, root_id, hlc, site, deleted, pending, local_seq, seen) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0) ON CONFLICT(tbl, row_id) DO UPDATE SET "
        "root_id = excluded.root_id, hlc = excluded.hlc, site = excluded.site, deleted = excluded.deleted, pending = 0"));
    FB_RETURN_IF_ERROR(meta.Bind(1, t.name).Bind(2, row.id).Bind(3, root).Bind(4, row.hlc).Bind(5, row.site)
                           .Bind(6, int64_t{row.deleted ? 1 : 0}).Run());
    if (row.deleted) {
      FB_ASSIGN_OR_RETURN(Statement drop, store.Prepare("DELETE FROM fb_cells WHERE tbl = ?1 AND row_id = ?2"));
      return drop.Bind(1, t.name).Bind(2, row.id).Run();
    }
    if (pending_cols.empty()) {
      FB_ASSIGN_OR_RETURN(Statement drop, store.Prepare("DELETE FROM fb_cells WHERE tbl = ?1 AND row_id = ?2"));
      FB_RETURN_IF_ERROR(drop.Bind(1, t.name).Bind(2, row.id).Run());
    } else {
      FB_ASSIGN_OR_RETURN(Statement drop, store.Prepare(
          "DELETE FROM fb_cells WHERE tbl = ?1 AND row_id = ?2 AND pending = 0"));
      FB_RETURN_IF_ERROR(drop.Bind(1, t.name).Bind(2, row.id).Run());
    }
    FB_ASSIGN_OR_RETURN(Statement cell, store.Prepare(
        "INSERT INTO fb_cells(tbl, row_id, col, hlc, site, pending) VALUES (?1, ?2, ?3, ?4, ?5, 0) "
        "ON CONFLICT(tbl, row_id, col) DO NOTHING"));
    for (const auto& [col, version] : row.versions) {
      if (pending_cols.count(col)) continue;
      FB_RETURN_IF_ERROR(cell.Bind(1, t.name).Bind(2, row.id).Bind(3, col).Bind(4, version.hlc).Bind(5, version.site).Run());
      cell.Reset();
    }
    return Status::Ok();
  }

  Status StageInsert(const TableSpec& t, const WireRow& row) {
    const std::string stage = "fb_stage_" + t.name;
    if (!stage_tables_created.count(t.name)) {
      FB_RETURN_IF_ERROR(store.Exec("CREATE TEMP TABLE IF NOT EXISTS " + QuoteIdent(stage) + " AS SELECT * FROM main." +
                                    QuoteIdent(t.name) + " WHERE 0"));
      stage_tables_created.insert(t.name);
    }
    std::string sql = "INSERT INTO temp." + QuoteIdent(stage) + " (id";
    std::string params = "?1";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      sql += ", " + QuoteIdent(t.columns[i].name);
      params += ", ?" + std::to_string(i + 2);
    }
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql + ") VALUES (" + params + ")"));
    st.Bind(1, row.id);
    for (size_t i = 0; i < t.columns.size(); ++i) st.BindNull(static_cast<int>(i) + 2);
    for (const auto& [col, value] : row.cells) {
      const int index = t.IndexOf(col);
      if (index >= 0) st.Bind(index + 2, value);
    }
    FB_RETURN_IF_ERROR(st.Run());
    staged[t.name].insert(row.id);
    return Status::Ok();
  }

  Status FlushStaged() {
    for (const TableSpec* t : tables) {
      if (!staged.count(t->name) || staged[t->name].empty()) continue;
      std::string cols = "id";
      for (const auto& c : t->columns) cols += ", " + QuoteIdent(c.name);
      const std::string stage = "temp." + QuoteIdent("fb_stage_" + t->name);
      FB_RETURN_IF_ERROR(store.Exec("INSERT INTO main." + QuoteIdent(t->name) + " (" + cols + ") SELECT " + cols +
                                    " FROM " + stage + " ORDER BY rowid; DELETE FROM " + stage));
      staged[t->name].clear();
    }
    return Status::Ok();
  }

  Status ApplyRow(const WireRow& row) {
    max_hlc = std::max(max_hlc, row.hlc);
    for (const auto& [col, v] : row.versions) max_hlc = std::max(max_hlc, v.hlc);
    const TableSpec* t = FindSyncedTable(store, row.table);
    if (!t) return Status::Ok();  // a table from a newer schema: the server keeps it for us
    // Local state of the row.
    FB_ASSIGN_OR_RETURN(Statement meta, store.Prepare(
        "SELECT deleted, pending, root_id FROM fb_rows WHERE tbl = ?1 AND row_id = ?2"));
    meta.Bind(1, t->name).Bind(2, row.id);
    FB_ASSIGN_OR_RETURN(bool known, meta.Step());
    const bool local_deleted = known && meta.Int(0) == 1;
    const bool local_pending_row = known && meta.Int(1) == 1;
    // A tombstone carries no cells: the root of a row we hold comes from our own records.
    const std::string known_root = known && !meta.IsNull(2) ? meta.String(2) : std::string();
    meta.Reset();
    std::set<std::string> pending_cols;
    {
      FB_ASSIGN_OR_RETURN(Statement cells, store.Prepare(
          "SELECT col FROM fb_cells WHERE tbl = ?1 AND row_id = ?2 AND pending = 1"));
      cells.Bind(1, t->name).Bind(2, row.id);
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool more, cells.Step());
        if (!more) break;
        pending_cols.insert(cells.String(0));
      }
    }
    // An unpushed local creation or deletion of this row goes to the server first.
    if (local_pending_row) return Status::Ok();
    const std::string root = row.deleted && !known_root.empty() ? known_root : RootOf(*t, row);

    if (row.deleted) {
      if (local_deleted) return WriteVersions(*t, row, root, {});
      // Our unpushed edits under this root must reach the server (and be kept as
      // conflicts) before the deletion removes them here: it waits in the stash.
      FB_ASSIGN_OR_RETURN(bool blocked, RootHasPending(root));
      if (blocked) return Stash(*t, row, root);
      FB_ASSIGN_OR_RETURN(Statement del, store.Prepare("DELETE FROM " + QuoteIdent(t->name) + " WHERE id = ?1"));
      FB_RETURN_IF_ERROR(del.Bind(1, row.id).Run());
      FB_ASSIGN_OR_RETURN(Statement unstash, store.Prepare("DELETE FROM fb_stash WHERE tbl = ?1 AND row_id = ?2"));
      FB_RETURN_IF_ERROR(unstash.Bind(1, t->name).Bind(2, row.id).Run());
      ++applied;
      return WriteVersions(*t, row, root, {});
    }
    if (local_deleted) return Status::Ok();  // a deletion wins; the server agrees once it has ours

    FB_ASSIGN_OR_RETURN(bool exists, RowExists(t->name, row.id));
    if (!exists) {
      // Parents first: a row whose parent has not arrived waits in the stash.
      for (const auto& c : t->columns) {
        if (c.references.empty()) continue;
        for (const auto& [col, v] : row.cells) {
          if (col != c.name || !AsText(v)) continue;
          FB_ASSIGN_OR_RETURN(bool parent, RowExists(c.references, *AsText(v)));
          if (!parent) return Stash(*t, row, root);
        }
      }
      FB_RETURN_IF_ERROR(StageInsert(*t, row));
      FB_ASSIGN_OR_RETURN(Statement unstash, store.Prepare("DELETE FROM fb_stash WHERE tbl = ?1 AND row_id = ?2"));
      FB_RETURN_IF_ERROR(unstash.Bind(1, t->name).Bind(2, row.id).Run());
      ++applied;
      return WriteVersions(*t, row, root, {});
    }
    // Existing row: take every cell we have not changed locally and that differs.
    FB_ASSIGN_OR_RETURN(Statement read, store.Prepare(SelectRowSql(*t) + " WHERE id = ?1"));
    read.Bind(1, row.id);
    FB_ASSIGN_OR_RETURN(bool found, read.Step());
    if (!found) return Status::Ok();
    const RowValues current = ReadRow(*t, read);
    read.Reset();
    std::string sets;
    std::vector<const Value*> values;
    for (const auto& [col, value] : row.cells) {
      const int index = t->IndexOf(col);
      if (index < 0 || pending_cols.count(col)) continue;
      if (current.values[static_cast<size_t>(index)] == value) continue;
      if (!sets.empty()) sets += ", ";
      sets += QuoteIdent(col) + " = ?" + std::to_string(values.size() + 2);
      values.push_back(&value);
    }
    if (!sets.empty()) {
      FB_ASSIGN_OR_RETURN(Statement upd, store.Prepare("UPDATE " + QuoteIdent(t->name) + " SET " + sets + " WHERE id = ?1"));
      upd.Bind(1, row.id);
      for (size_t i = 0; i < values.size(); ++i) upd.Bind(static_cast<int>(i) + 2, *values[i]);
      FB_RETURN_IF_ERROR(upd.Run());
    }
    ++applied;
    return WriteVersions(*t, row, root, pending_cols);
  }

  // Stashed rows whose parent is now here are applied; those whose parent was deleted
  // are dropped (the server has cascaded the deletion to them).
  Status DrainStash() {
    for (int round = 0; round < 16; ++round) {
      FB_RETURN_IF_ERROR(FlushStaged());
      std::vector<std::string> bodies;
      FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT body FROM fb_stash ORDER BY rowid"));
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        bodies.push_back(st.String(0));
      }
      st.Reset();
      if (bodies.empty()) return Status::Ok();
      const int64_t before = applied;
      for (const auto& body : bodies) {
        FB_ASSIGN_OR_RETURN(SyncResponse holder, DecodeResponse(body));
        for (const auto& row : holder.rows) FB_RETURN_IF_ERROR(ApplyRow(row));
      }
      if (applied == before) break;
    }
    FB_RETURN_IF_ERROR(FlushStaged());
    // Children of deleted parents will never be applied.
    for (const TableSpec* t : tables) {
      for (const auto& c : t->columns) {
        if (c.references.empty()) continue;
        FB_RETURN_IF_ERROR(store.Exec(
            "DELETE FROM fb_stash WHERE tbl = '" + t->name + "' AND EXISTS (SELECT 1 FROM fb_rows r WHERE r.tbl = '" +
            c.references + "' AND r.deleted = 1 AND r.row_id = json_extract(fb_stash.body, '$.rows[0].c." + c.name + "'))"));
      }
    }
    return Status::Ok();
  }

  Result<int64_t> ApplyEvictions(const std::vector<std::string>& evict) {
    FB_ASSIGN_OR_RETURN(Statement add, store.Prepare("INSERT OR IGNORE INTO fb_evictions(root_id) VALUES (?1)"));
    for (const auto& root : evict) {
      FB_RETURN_IF_ERROR(add.Bind(1, root).Run());
      add.Reset();
    }
    std::vector<std::string> roots;
    {
      FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT root_id FROM fb_evictions"));
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        roots.push_back(st.String(0));
      }
    }
    int64_t evicted = 0;
    for (const auto& root : roots) {
      FB_ASSIGN_OR_RETURN(bool blocked, RootHasPending(root));
      if (blocked) continue;  // evicted after our writes reach the server
      // Children first so no foreign key is left dangling.
      for (auto it = tables.rbegin(); it != tables.rend(); ++it) {
        const TableSpec* t = *it;
        std::string where;
        if (t->partition.kind == PartitionKind::kSelf) where = "id = ?1";
        else if (t->partition.kind == PartitionKind::kRoot) where = QuoteIdent(t->partition.root_column) + " = ?1";
        else continue;
        FB_ASSIGN_OR_RETURN(Statement del, store.Prepare("DELETE FROM " + QuoteIdent(t->name) + " WHERE " + where));
        FB_RETURN_IF_ERROR(del.Bind(1, root).Run());
      }
      FB_ASSIGN_OR_RETURN(Statement cells, store.Prepare(
          "DELETE FROM fb_cells WHERE (tbl, row_id) IN (SELECT tbl, row_id FROM fb_rows WHERE root_id = ?1)"));
      FB_RETURN_IF_ERROR(cells.Bind(1, root).Run());
      for (const char* sql : {"DELETE FROM fb_rows WHERE root_id = ?1", "DELETE FROM fb_stash WHERE root_id = ?1",
                              "DELETE FROM fb_evictions WHERE root_id = ?1"}) {
        FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
        FB_RETURN_IF_ERROR(st.Bind(1, root).Run());
      }
      ++evicted;
    }
    return evicted;
  }
};

}  // namespace

Status ApplyPage(Store& store, const std::vector<WireRow>& rows, const std::vector<std::string>& evict,
                 int64_t* applied, int64_t* evicted) {
  PageApplier page{store, SyncedTables(store)};
  FB_RETURN_IF_ERROR(store.Exec("UPDATE fb_sync_state SET applying = 1 WHERE id = 1"));
  Status s = [&]() -> Status {
    for (const auto& row : rows) FB_RETURN_IF_ERROR(page.ApplyRow(row));
    FB_RETURN_IF_ERROR(page.DrainStash());
    FB_ASSIGN_OR_RETURN(int64_t gone, page.ApplyEvictions(evict));
    if (evicted) *evicted = gone;
    // Later local writes must order after everything received.
    FB_ASSIGN_OR_RETURN(Statement clock, store.Prepare("UPDATE fb_sync_state SET hlc = max(hlc, ?1), received_hlc = max(received_hlc, ?1) WHERE id = 1"));
    return clock.Bind(1, page.max_hlc).Run();
  }();
  Status reset = store.Exec("UPDATE fb_sync_state SET applying = 0 WHERE id = 1");
  if (!s.ok()) return s;
  if (applied) *applied = page.applied;
  return reset;
}

}  // namespace fieldbook::sync
