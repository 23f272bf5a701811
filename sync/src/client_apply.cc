// SyncClient: applying pulled pages.
//
// The server's row is the truth for every cell this device has not changed since it last
// pushed; cells with unpushed local edits keep the local value (the push decides). A
// column a pulled row does not list is null.
//
// Speed matters most for an initial sync (every row new): the page's local bookkeeping
// is loaded in two set-based queries, new rows are staged and inserted table by table
// with one prepared statement, with triggers off where they all have bulk forms
// (bulk_insert.h), and their version records are written with one prepared statement
// each. Rows whose parent has not arrived, and deletions that would remove unpushed
// local edits, wait in fb_stash.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "fieldbook/core/bulk_insert.h"
#include "fieldbook/core/encryption.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/records.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/client.h"
#include "fieldbook/sync/erasure.h"

namespace fieldbook::sync {
namespace {

using RowKey = std::pair<std::string, std::string>;  // (table, id)

struct LocalMeta {
  bool deleted = false;
  bool pending = false;
  std::string root;
};

struct PageApplier {
  PageApplier(Store& s, std::vector<const TableSpec*> t) : store(s), tables(std::move(t)) {}

  Store& store;
  std::vector<const TableSpec*> tables;
  std::map<RowKey, LocalMeta> meta;                     // fb_rows of the rows being applied
  std::map<RowKey, std::set<std::string>> pending;      // unpushed cells of those rows
  std::map<std::string, std::set<std::string>> staged;  // table -> ids staged in this page
  std::map<RowKey, bool> exists_cache;
  std::map<std::string, std::vector<const WireRow*>> staged_rows;  // table -> new rows, in order
  std::optional<Statement> upsert_row, insert_cell;     // prepared once per page
  std::set<std::string> erased;                        // roots erased here
  bool stash_in_use = false;
  Hlc max_hlc = 0;
  int64_t applied = 0;

  // Loads fb_rows and pending fb_cells for a batch of pulled rows.
  Status Preload(const std::vector<const WireRow*>& rows) {
    if (rows.empty()) return Status::Ok();
    rapidjson::Document ids(rapidjson::kArrayType);
    for (const WireRow* r : rows) {
      ids.PushBack(rapidjson::Value(r->id.c_str(), static_cast<rapidjson::SizeType>(r->id.size()), ids.GetAllocator()),
                   ids.GetAllocator());
    }
    const std::string json = ToJson(ids);
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT tbl, row_id, deleted, pending, root_id FROM fb_rows WHERE row_id IN (SELECT value FROM json_each(?1))"));
    st.Bind(1, json);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      meta[{st.String(0), st.String(1)}] = LocalMeta{st.Int(2) == 1, st.Int(3) == 1, st.IsNull(4) ? "" : st.String(4)};
    }
    FB_ASSIGN_OR_RETURN(Statement cells, store.Prepare(
        "SELECT tbl, row_id, col FROM fb_cells WHERE pending = 1 AND row_id IN (SELECT value FROM json_each(?1))"));
    cells.Bind(1, json);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, cells.Step());
      if (!row) break;
      pending[{cells.String(0), cells.String(1)}].insert(cells.String(2));
    }
    FB_ASSIGN_OR_RETURN(std::vector<std::string> roots, ErasedRoots(store));
    erased.insert(roots.begin(), roots.end());
    FB_ASSIGN_OR_RETURN(Statement stash, store.Prepare("SELECT EXISTS (SELECT 1 FROM fb_stash)"));
    FB_ASSIGN_OR_RETURN(bool any, stash.Step());
    stash_in_use = any && stash.Int(0) == 1;
    return Status::Ok();
  }

  Result<bool> RowExists(const std::string& table, const std::string& id) {
    if (staged[table].count(id)) return true;
    const RowKey key{table, id};
    if (auto it = meta.find(key); it != meta.end() && !it->second.pending) return !it->second.deleted;
    if (auto it = exists_cache.find(key); it != exists_cache.end()) return it->second;
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT 1 FROM " + QuoteIdent(table) + " WHERE id = ?1"));
    st.Bind(1, id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    exists_cache[key] = found;
    return found;
  }

  // Items of this root that still wait to be pushed: the row must not be removed under
  // them, or the edits would be lost before the server could record them.
  Result<bool> RootHasPending(const std::string& root) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT EXISTS (SELECT 1 FROM fb_rows WHERE root_id = ?1 AND pending = 1) OR EXISTS ("
        "SELECT 1 FROM fb_cells c JOIN fb_rows r ON r.tbl = c.tbl AND r.row_id = c.row_id "
        "WHERE r.root_id = ?1 AND c.pending = 1)"));
    st.Bind(1, root);
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    return row && st.Int(0) == 1;
  }

  static const Value* CellOf(const WireRow& row, const std::string& col) {
    for (const auto& [c, v] : row.cells) {
      if (c == col) return &v;
    }
    return nullptr;
  }

  std::string RootOf(const TableSpec& t, const WireRow& row) {
    auto text = [&](const std::string& col) -> std::string {
      const Value* v = CellOf(row, col);
      return v && AsText(*v) ? *AsText(*v) : std::string();
    };
    switch (t.partition.kind) {
      case PartitionKind::kSelf: return row.id;
      case PartitionKind::kRoot: return text(t.partition.root_column);
      case PartitionKind::kTeam: return "team:" + text(t.partition.team_column);
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
    stash_in_use = true;
    return st.Bind(1, t.name).Bind(2, row.id).Bind(3, root).Bind(4, EncodeResponse(holder)).Run();
  }

  Status Unstash(const TableSpec& t, const WireRow& row) {
    if (!stash_in_use) return Status::Ok();
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("DELETE FROM fb_stash WHERE tbl = ?1 AND row_id = ?2"));
    return st.Bind(1, t.name).Bind(2, row.id).Run();
  }

  // Records the row's versions: the row's default in fb_rows, differing cells in fb_cells
  // (unpushed cells keep their own entries).
  Status WriteVersions(const TableSpec& t, const WireRow& row, const std::string& root,
                       const std::set<std::string>& pending_cols, bool fresh) {
    if (!upsert_row) {
      FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
          "INSERT INTO fb_rows(tbl, row_id, root_id, hlc, site, deleted, pending, local_seq, seen) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0) ON CONFLICT(tbl, row_id) DO UPDATE SET "
          "root_id = excluded.root_id, hlc = excluded.hlc, site = excluded.site, deleted = excluded.deleted, pending = 0"));
      upsert_row.emplace(std::move(st));
    }
    Statement& st = *upsert_row;
    // Bound in place: the row and its root outlive the statement's run and reset.
    FB_RETURN_IF_ERROR(st.BindUnowned(1, t.name).BindUnowned(2, row.id).BindUnowned(3, root).Bind(4, row.hlc)
                           .BindUnowned(5, row.site)
                           .Bind(6, int64_t{row.deleted ? 1 : 0}).Run());
    st.Reset();
    meta[{t.name, row.id}] = LocalMeta{row.deleted, false, root};
    if (!fresh) {
      FB_ASSIGN_OR_RETURN(Statement drop, store.Prepare(
          row.deleted || pending_cols.empty() ? "DELETE FROM fb_cells WHERE tbl = ?1 AND row_id = ?2"
                                              : "DELETE FROM fb_cells WHERE tbl = ?1 AND row_id = ?2 AND pending = 0"));
      FB_RETURN_IF_ERROR(drop.Bind(1, t.name).Bind(2, row.id).Run());
    }
    if (row.deleted || row.versions.empty()) return Status::Ok();
    if (!insert_cell) {
      FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
          "INSERT INTO fb_cells(tbl, row_id, col, hlc, site, pending) VALUES (?1, ?2, ?3, ?4, ?5, 0) "
          "ON CONFLICT(tbl, row_id, col) DO NOTHING"));
      insert_cell.emplace(std::move(st));
    }
    Statement& cell = *insert_cell;
    for (const auto& [col, version] : row.versions) {
      if (pending_cols.count(col)) continue;
      FB_RETURN_IF_ERROR(cell.Bind(1, t.name).Bind(2, row.id).Bind(3, col).Bind(4, version.hlc).Bind(5, version.site).Run());
      cell.Reset();
    }
    return Status::Ok();
  }

  // New rows wait here until FlushStaged inserts them, table by table.
  Status StageInsert(const TableSpec& t, const WireRow& row) {
    staged_rows[t.name].push_back(&row);
    staged[t.name].insert(row.id);
    return Status::Ok();
  }

  // Binds and inserts one staged row. `columns` remembers which column each cell position
  // held in the rows before (rows of one block list the same columns in the same order).
  Status InsertStaged(const TableSpec& t, Statement& insert, const WireRow& row, std::vector<int>& columns) {
    insert.Reset();  // every parameter null again
    insert.Bind(1, row.id);
    for (size_t i = 0; i < row.cells.size(); ++i) {
      const auto& [col, value] = row.cells[i];
      if (i >= columns.size()) columns.resize(i + 1, -1);
      int index = columns[i];
      if (index < 0 || t.columns[static_cast<size_t>(index)].name != col) index = columns[i] = t.IndexOf(col);
      if (index < 0) continue;
      const ColumnSpec& column = t.columns[static_cast<size_t>(index)];
      if (store.cipher() && IsEncryptedColumn(column)) {
        FB_ASSIGN_OR_RETURN(Value sealed, SealCell(store, column, value));
        insert.Bind(index + 2, sealed);
      } else {
        insert.BindUnowned(index + 2, value);  // the page outlives the insert
      }
    }
    return insert.Run();
  }

  // Inserts the staged rows of each table in staging order, parents' tables first. Where
  // every insert trigger of the table is known (the capture's do nothing while applying;
  // the registry's have bulk forms), the rows go in with triggers off and the bulk forms
  // run once over their rowids: a trigger call per row was most of the time spent here.
  Status FlushStaged() {
    for (const TableSpec* t : tables) {
      auto it = staged_rows.find(t->name);
      if (it == staged_rows.end() || it->second.empty()) continue;
      std::string sql = "INSERT INTO main." + QuoteIdent(t->name) + " (id";
      std::string params = "?1";
      for (size_t i = 0; i < t->columns.size(); ++i) {
        sql += ", " + QuoteIdent(t->columns[i].name);
        params += ", ?" + std::to_string(i + 2);
      }
      FB_ASSIGN_OR_RETURN(Statement insert, store.Prepare(sql + ") VALUES (" + params + ")"));
      FB_ASSIGN_OR_RETURN(std::optional<BulkInsertPlan> plan,
                          BulkInsertPlan::For(store, t->name, InsertTriggersQuietWhileApplying(*t)));
      std::vector<int> columns;
      if (plan) {
        FB_ASSIGN_OR_RETURN(TriggersOff off, TriggersOff::Begin(store));
        int64_t first = 0, last = -1;
        for (const WireRow* row : it->second) {
          FB_RETURN_IF_ERROR(InsertStaged(*t, insert, *row, columns));
          last = store.last_insert_rowid();
          if (first == 0) first = last;
        }
        FB_RETURN_IF_ERROR(off.End());
        FB_RETURN_IF_ERROR(plan->Finish(store, first, last));
      } else {
        for (const WireRow* row : it->second) FB_RETURN_IF_ERROR(InsertStaged(*t, insert, *row, columns));
      }
      insert.Reset();
      for (const WireRow* row : it->second) exists_cache[{t->name, row->id}] = true;
      it->second.clear();
      staged[t->name].clear();
    }
    return Status::Ok();
  }

  Status ApplyRow(const WireRow& row) {
    max_hlc = std::max(max_hlc, row.hlc);
    for (const auto& [col, v] : row.versions) max_hlc = std::max(max_hlc, v.hlc);
    const TableSpec* t = FindSyncedTable(store, row.table);
    if (!t) return Status::Ok();  // a table from a newer schema: the server keeps it for us
    const RowKey key{t->name, row.id};
    const auto known_it = meta.find(key);
    const bool known = known_it != meta.end();
    const bool local_deleted = known && known_it->second.deleted;
    // An unpushed local creation or deletion of this row goes to the server first.
    if (known && known_it->second.pending) return Status::Ok();
    // A tombstone carries no cells: the root of a row we hold comes from our own records.
    const std::string root = row.deleted && known && !known_it->second.root.empty() ? known_it->second.root : RootOf(*t, row);
    static const std::set<std::string> kNone;
    const auto pending_it = pending.find(key);
    const std::set<std::string>& pending_cols = pending_it != pending.end() ? pending_it->second : kNone;
    const bool erasure = t->name == ErasuresTable().name;
    if (!erasure && !row.deleted && erased.count(root)) return Status::Ok();  // an erased record never comes back

    if (row.deleted) {
      if (local_deleted) return WriteVersions(*t, row, root, kNone, false);
      if (!known) return WriteVersions(*t, row, root, kNone, false);  // never had it: remember the id is gone
      // Our unpushed edits under this root must reach the server (and be kept as
      // conflicts) before the deletion removes them here: it waits in the stash.
      FB_ASSIGN_OR_RETURN(bool blocked, RootHasPending(root));
      if (blocked) return Stash(*t, row, root);
      FB_ASSIGN_OR_RETURN(Statement del, store.Prepare("DELETE FROM " + QuoteIdent(t->name) + " WHERE id = ?1"));
      FB_RETURN_IF_ERROR(del.Bind(1, row.id).Run());
      exists_cache[key] = false;
      FB_RETURN_IF_ERROR(Unstash(*t, row));
      ++applied;
      return WriteVersions(*t, row, root, kNone, false);
    }
    if (local_deleted) return Status::Ok();  // a deletion wins; the server agrees once it has ours

    FB_ASSIGN_OR_RETURN(bool exists, known ? RowExists(t->name, row.id) : Result<bool>(staged[t->name].count(row.id) > 0));
    if (!exists) {
      // Parents first: a row whose parent has not arrived waits in the stash.
      for (const auto& c : t->columns) {
        if (c.references.empty()) continue;
        const Value* v = CellOf(row, c.name);
        if (!v || !AsText(*v)) continue;
        FB_ASSIGN_OR_RETURN(bool parent, RowExists(c.references, *AsText(*v)));
        if (!parent) return Stash(*t, row, root);
      }
      FB_RETURN_IF_ERROR(StageInsert(*t, row));
      FB_RETURN_IF_ERROR(Unstash(*t, row));
      ++applied;
      FB_RETURN_IF_ERROR(WriteVersions(*t, row, root, kNone, !known));
      return erasure ? Erase(root) : Status::Ok();
    }
    // Existing row: take every cell we have not changed locally and that differs.
    FB_ASSIGN_OR_RETURN(Statement read, store.Prepare(SelectRowSql(*t) + " WHERE id = ?1"));
    read.Bind(1, row.id);
    FB_ASSIGN_OR_RETURN(bool found, read.Step());
    if (!found) return Status::Ok();
    const RowValues current = ReadRow(*t, read);
    read.Reset();
    std::string sets;
    std::vector<Value> values;
    static const Value kNull;
    for (size_t i = 0; i < t->columns.size(); ++i) {
      const std::string& col = t->columns[i].name;
      if (pending_cols.count(col)) continue;
      const Value* incoming = CellOf(row, col);
      const Value& v = incoming ? *incoming : kNull;
      if (current.values[i] == v) continue;
      if (!sets.empty()) sets += ", ";
      sets += QuoteIdent(col) + " = ?" + std::to_string(values.size() + 2);
      FB_ASSIGN_OR_RETURN(Value stored, SealCell(store, t->columns[i], v));
      values.push_back(std::move(stored));
    }
    if (!sets.empty()) {
      FB_ASSIGN_OR_RETURN(Statement upd, store.Prepare("UPDATE " + QuoteIdent(t->name) + " SET " + sets + " WHERE id = ?1"));
      upd.Bind(1, row.id);
      for (size_t i = 0; i < values.size(); ++i) upd.Bind(static_cast<int>(i) + 2, values[i]);
      FB_RETURN_IF_ERROR(upd.Run());
    }
    ++applied;
    return WriteVersions(*t, row, root, pending_cols, false);
  }

  // An erasure arrived: everything of its root goes, including unpushed local edits (the
  // server discards them) and rows staged earlier in this page.
  Status Erase(const std::string& root) {
    FB_RETURN_IF_ERROR(FlushStaged());
    FB_RETURN_IF_ERROR(WipeRoot(store, root, tables));
    erased.insert(root);
    for (auto& [key, m] : meta) {
      if (m.root != root || key.first == ErasuresTable().name) continue;
      m.deleted = true;
      m.pending = false;
      pending.erase(key);
      exists_cache[key] = false;
    }
    return Status::Ok();
  }

  Status ApplyRows(const std::vector<WireRow>& rows) {
    std::vector<const WireRow*> refs;
    refs.reserve(rows.size());
    for (const auto& r : rows) refs.push_back(&r);
    FB_RETURN_IF_ERROR(Preload(refs));
    for (const auto& row : rows) FB_RETURN_IF_ERROR(ApplyRow(row));
    return Status::Ok();
  }

  // Stashed rows whose parent is now here are applied; those whose parent was deleted
  // are dropped (the server has cascaded the deletion to them).
  Status DrainStash() {
    FB_RETURN_IF_ERROR(FlushStaged());
    if (!stash_in_use) return Status::Ok();
    for (int round = 0; round < 16; ++round) {
      std::vector<std::string> bodies;
      FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT body FROM fb_stash ORDER BY rowid"));
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        bodies.push_back(st.String(0));
      }
      st.Reset();
      if (bodies.empty()) return Status::Ok();
      std::vector<WireRow> rows;
      for (const auto& body : bodies) {
        FB_ASSIGN_OR_RETURN(SyncResponse holder, DecodeResponse(body));
        for (auto& row : holder.rows) rows.push_back(std::move(row));
      }
      const int64_t before = applied;
      FB_RETURN_IF_ERROR(ApplyRows(rows));
      FB_RETURN_IF_ERROR(FlushStaged());
      if (applied == before) break;
    }
    // Children of deleted parents will never be applied.
    for (const TableSpec* t : tables) {
      for (const auto& c : t->columns) {
        if (c.references.empty()) continue;
        FB_ASSIGN_OR_RETURN(Statement drop, store.Prepare(
            "DELETE FROM fb_stash WHERE tbl = ?1 AND EXISTS (SELECT 1 FROM fb_rows r WHERE r.tbl = ?2 AND r.deleted = 1 "
            "AND r.row_id = json_extract(fb_stash.body, '$.rows[0].c.' || ?3))"));
        FB_RETURN_IF_ERROR(drop.Bind(1, t->name).Bind(2, c.references).Bind(3, c.name).Run());
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
    FB_RETURN_IF_ERROR(page.ApplyRows(rows));
    FB_RETURN_IF_ERROR(page.DrainStash());
    FB_ASSIGN_OR_RETURN(int64_t gone, page.ApplyEvictions(evict));
    if (evicted) *evicted = gone;
    // Later local writes must order after everything received.
    FB_ASSIGN_OR_RETURN(Statement clock, store.Prepare(
        "UPDATE fb_sync_state SET hlc = max(hlc, ?1), received_hlc = max(received_hlc, ?1) WHERE id = 1"));
    return clock.Bind(1, page.max_hlc).Run();
  }();
  Status reset = store.Exec("UPDATE fb_sync_state SET applying = 0 WHERE id = 1");
  if (!s.ok()) return s;
  if (applied) *applied = page.applied;
  return reset;
}

}  // namespace fieldbook::sync
