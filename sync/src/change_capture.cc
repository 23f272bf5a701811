#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/blobs.h"

#include "fieldbook/core/ids.h"
#include "fieldbook/sync/erasure.h"
#include "sql_text.h"

namespace fieldbook::sync {
namespace {

constexpr int kSyncSchemaVersion = 4;  // 2: erasures, 3: blobs, 4: seen_cursor

TableSpec BuildConflictsTable() {
  constexpr auto kServer = MergePolicy::kServerOnly;
  TableBuilder b("conflicts", UnderRoot("root_id"));
  b.Text("root_id").Required().Merge(kServer)
      .Text("tbl").Required().Merge(kServer)
      .Text("row_id").Required().Merge(kServer)
      .Text("col").Merge(kServer)
      .Enum("kind", {"update_update", "delete_update", "text_overlap", "reassigned", "immutable"})
      .Required().Merge(kServer)
      .Text("winner_value", Format::kPlain).Merge(kServer).Sensitive().MaxLength(1 << 20)
      .Int("winner_hlc").Merge(kServer)
      .Text("winner_site").Merge(kServer)
      .Text("loser_value", Format::kPlain).Merge(kServer).Sensitive().MaxLength(1 << 20)
      .Int("loser_hlc").Merge(kServer)
      .Text("loser_site").Merge(kServer)
      .Text("loser_agent").Merge(kServer)
      .Int("detected_at", Format::kTimestamp).Merge(kServer)
      .Int("resolved", Format::kBool)
      .Enum("resolution", {"winner", "loser", "value"})
      .Text("resolved_value").Sensitive().MaxLength(1 << 20)
      .Text("restored_id")
      .Int("resolved_at", Format::kTimestamp)
      .Text("resolved_by");
  return std::move(b).Build();
}

std::string RootExpr(const TableSpec& t, const char* row) {
  const std::string r(row);
  switch (t.partition.kind) {
    case PartitionKind::kSelf: return r + ".id";
    case PartitionKind::kRoot: return r + "." + QuoteIdent(t.partition.root_column);
    case PartitionKind::kTeam: return "'team:' || coalesce(" + r + "." + QuoteIdent(t.partition.team_column) + ", '')";
    case PartitionKind::kTenant: return "'tenant'";
  }
  return r + ".id";
}

const char* kNotApplying = "(SELECT applying FROM fb_sync_state) = 0";

std::string TickClock() {
  return "UPDATE fb_sync_state SET hlc = max(hlc + 1, (" + NowMsSql() + ") << 16), local_seq = local_seq + 1;";
}

std::vector<std::string> TriggersFor(const TableSpec& t) {
  const std::string T = QuoteIdent(t.name);
  const std::string lit = SqlLiteral(t.name);
  const std::string prefix = "fb_cap_" + t.name;
  std::vector<std::string> out;

  // An id once deleted is never used again.
  out.push_back("CREATE TRIGGER " + QuoteIdent(prefix + "_reuse") + " BEFORE INSERT ON " + T +
                " WHEN EXISTS (SELECT 1 FROM fb_rows WHERE tbl = " + lit +
                " AND row_id = NEW.id AND deleted = 1) BEGIN SELECT RAISE(ABORT, " +
                SqlLiteral("fieldbook: " + t.name + " id was deleted and cannot be reused") + "); END");

  // Guards: immutable once set, server-only never written locally.
  std::string guard_upd, guard_ins;
  for (const auto& c : t.columns) {
    const std::string C = QuoteIdent(c.name);
    if (c.merge == MergePolicy::kImmutable) {
      guard_upd += " WHEN OLD." + C + " IS NOT NULL AND OLD." + C + " IS NOT NEW." + C + " THEN " +
                   SqlLiteral("fieldbook: " + t.name + "." + c.name + " is immutable");
    } else if (c.merge == MergePolicy::kServerOnly) {
      guard_upd += " WHEN OLD." + C + " IS NOT NEW." + C + " THEN " +
                   SqlLiteral("fieldbook: " + t.name + "." + c.name + " is written by the server only");
      guard_ins += " WHEN NEW." + C + " IS NOT NULL THEN " +
                   SqlLiteral("fieldbook: " + t.name + "." + c.name + " is written by the server only");
    }
  }
  if (!guard_upd.empty()) {
    out.push_back("CREATE TRIGGER " + QuoteIdent(prefix + "_guard_upd") + " BEFORE UPDATE ON " + T + " WHEN " +
                  kNotApplying + " BEGIN SELECT RAISE(ABORT, msg) FROM (SELECT CASE" + guard_upd +
                  " END AS msg) WHERE msg IS NOT NULL; END");
  }
  if (!guard_ins.empty()) {
    out.push_back("CREATE TRIGGER " + QuoteIdent(prefix + "_guard_ins") + " BEFORE INSERT ON " + T + " WHEN " +
                  kNotApplying + " BEGIN SELECT RAISE(ABORT, msg) FROM (SELECT CASE" + guard_ins +
                  " END AS msg) WHERE msg IS NOT NULL; END");
  }

  // Insert: the row is new at this version; all its cells share it.
  out.push_back("CREATE TRIGGER " + QuoteIdent(prefix + "_ins") + " AFTER INSERT ON " + T + " WHEN " + kNotApplying +
                " BEGIN " + TickClock() +
                " INSERT INTO fb_rows(tbl, row_id, root_id, hlc, site, deleted, pending, local_seq, seen) "
                "SELECT " + lit + ", NEW.id, " + RootExpr(t, "NEW") + ", s.hlc, s.site, 0, 1, s.local_seq, s.seen_cursor "
                "FROM fb_sync_state s WHERE s.id = 1 "
                "ON CONFLICT(tbl, row_id) DO UPDATE SET root_id = excluded.root_id, hlc = excluded.hlc, "
                "site = excluded.site, deleted = 0, pending = 1, local_seq = excluded.local_seq, seen = excluded.seen; "
                "DELETE FROM fb_cells WHERE tbl = " + lit + " AND row_id = NEW.id; END");

  // Update: one cell entry per changed column, all at one new version. One statement over
  // a VALUES row per column (name, changed, base value): a statement per column made the
  // schema, which SQLite parses on every open, three times the text (348 KB, 4.8 MB parsed).
  std::string upd = "CREATE TRIGGER " + QuoteIdent(prefix + "_upd") + " AFTER UPDATE ON " + T + " WHEN " +
                    kNotApplying + " BEGIN " + TickClock();
  std::string columns;
  for (const auto& c : t.columns) {
    const std::string C = QuoteIdent(c.name);
    const std::string base_value = c.merge == MergePolicy::kTextMerge ? "OLD." + C : std::string("NULL");
    columns += std::string(columns.empty() ? "" : ", ") + "(" + SqlLiteral(c.name) + ", OLD." + C + " IS NOT NEW." + C +
               ", " + base_value + ")";
  }
  if (!columns.empty()) {
    upd += " INSERT INTO fb_cells(tbl, row_id, col, hlc, site, base_hlc, base_value, pending, local_seq, seen) "
           "SELECT " + lit + ", NEW.id, v.column1, s.hlc, s.site, "
           "coalesce((SELECT r.hlc FROM fb_rows r WHERE r.tbl = " + lit + " AND r.row_id = NEW.id), 0), "
           "v.column3, 1, s.local_seq, s.seen_cursor FROM fb_sync_state s, (VALUES " + columns +
           ") v WHERE s.id = 1 AND v.column2"
           " ON CONFLICT(tbl, row_id, col) DO UPDATE SET hlc = excluded.hlc, site = excluded.site, "
           "local_seq = excluded.local_seq, "
           "base_hlc = CASE WHEN fb_cells.pending THEN fb_cells.base_hlc ELSE fb_cells.hlc END, "
           "base_value = CASE WHEN fb_cells.pending THEN fb_cells.base_value ELSE excluded.base_value END, "
           "seen = CASE WHEN fb_cells.pending THEN fb_cells.seen ELSE excluded.seen END, pending = 1;";
  }
  upd += " UPDATE fb_rows SET root_id = " + RootExpr(t, "NEW") + " WHERE tbl = " + lit +
         " AND row_id = NEW.id AND root_id IS NOT " + RootExpr(t, "NEW") + "; END";
  out.push_back(upd);

  // Before a delete (and before foreign keys cascade it to children): the deletion saw
  // only what every unpushed cell of its customer had seen, since those cells showed our
  // own values rather than the ones others wrote meanwhile. The server uses it to decide
  // which concurrent edits the deletion overrides unseen (they become conflict records).
  out.push_back("CREATE TRIGGER " + QuoteIdent(prefix + "_predel") + " BEFORE DELETE ON " + T + " WHEN " +
                kNotApplying + " BEGIN UPDATE fb_rows SET delete_seen = min("
                "(SELECT seen_cursor FROM fb_sync_state WHERE id = 1), coalesce((SELECT min(c.seen) FROM fb_cells c "
                "JOIN fb_rows r ON r.tbl = c.tbl AND r.row_id = c.row_id WHERE c.pending = 1 AND r.root_id = " +
                RootExpr(t, "OLD") + "), (SELECT seen_cursor FROM fb_sync_state WHERE id = 1))) WHERE tbl = " + lit +
                " AND row_id = OLD.id; END");
  // Delete: a tombstone at a new version; the cells' history goes with the row.
  out.push_back("CREATE TRIGGER " + QuoteIdent(prefix + "_del") + " AFTER DELETE ON " + T + " WHEN " + kNotApplying +
                " BEGIN " + TickClock() +
                " INSERT INTO fb_rows(tbl, row_id, root_id, hlc, site, deleted, pending, local_seq, seen) "
                "SELECT " + lit + ", OLD.id, " + RootExpr(t, "OLD") + ", s.hlc, s.site, 1, 1, s.local_seq, s.seen_cursor "
                "FROM fb_sync_state s WHERE s.id = 1 "
                "ON CONFLICT(tbl, row_id) DO UPDATE SET hlc = excluded.hlc, site = excluded.site, deleted = 1, "
                "pending = 1, local_seq = excluded.local_seq, "
                "seen = min(excluded.seen, coalesce(fb_rows.delete_seen, excluded.seen)); "
                "DELETE FROM fb_cells WHERE tbl = " + lit + " AND row_id = OLD.id; END");
  return out;
}

}  // namespace

std::vector<std::string> InsertTriggersQuietWhileApplying(const TableSpec& table) {
  const std::string prefix = "fb_cap_" + table.name;
  return {prefix + "_reuse", prefix + "_guard_ins", prefix + "_ins"};
}

namespace {

Status CreateSyncTables(Store& store, int from_version) {
  if (from_version >= 1) {
    if (from_version < 2) FB_RETURN_IF_ERROR(CreateErasureTables(store));
    if (from_version < 3) FB_RETURN_IF_ERROR(CreateBlobTables(store));
    if (from_version < 4) {
      // Edits used to claim the cursor as seen; the cursor is the best there is to start from.
      FB_RETURN_IF_ERROR(store.Exec(
          "ALTER TABLE fb_sync_state ADD COLUMN seen_cursor INTEGER NOT NULL DEFAULT 0;"
          "UPDATE fb_sync_state SET seen_cursor = cursor"));
    }
    return Status::Ok();
  }
  FB_RETURN_IF_ERROR(CreateBlobTables(store));
  uint8_t bytes[8];
  store.env().RandomBytes(bytes, sizeof bytes);
  const std::string site = HexEncode(bytes, sizeof bytes);
  FB_RETURN_IF_ERROR(store.Exec(
      "CREATE TABLE IF NOT EXISTS fb_sync_state ("
      " id INTEGER PRIMARY KEY CHECK (id = 1), site TEXT NOT NULL, hlc INTEGER NOT NULL DEFAULT 0,"
      " local_seq INTEGER NOT NULL DEFAULT 0, applying INTEGER NOT NULL DEFAULT 0, fixed_now INTEGER,"
      " skew_ms INTEGER NOT NULL DEFAULT 0, cursor INTEGER NOT NULL DEFAULT 0, epoch TEXT NOT NULL DEFAULT '',"
      " batch_id TEXT NOT NULL DEFAULT '', batch_seq INTEGER NOT NULL DEFAULT 0,"
      " batch_hlc INTEGER NOT NULL DEFAULT 0, received_hlc INTEGER NOT NULL DEFAULT 0,"
      " accepted_hlc INTEGER NOT NULL DEFAULT 0, request_seq INTEGER NOT NULL DEFAULT 0,"
      " seen_cursor INTEGER NOT NULL DEFAULT 0) STRICT;"
      "CREATE TABLE IF NOT EXISTS fb_rows ("
      " tbl TEXT NOT NULL, row_id TEXT NOT NULL, root_id TEXT, hlc INTEGER NOT NULL, site TEXT NOT NULL,"
      " deleted INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 0,"
      " local_seq INTEGER NOT NULL DEFAULT 0, seen INTEGER NOT NULL DEFAULT 0, delete_seen INTEGER,"
      " PRIMARY KEY (tbl, row_id)) STRICT, WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS fb_rows_pending ON fb_rows(local_seq) WHERE pending = 1;"
      "CREATE INDEX IF NOT EXISTS fb_rows_root ON fb_rows(root_id);"
      "CREATE TABLE IF NOT EXISTS fb_cells ("
      " tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, hlc INTEGER NOT NULL, site TEXT NOT NULL,"
      " base_hlc INTEGER NOT NULL DEFAULT 0, base_value ANY, pending INTEGER NOT NULL DEFAULT 0,"
      " local_seq INTEGER NOT NULL DEFAULT 0, seen INTEGER NOT NULL DEFAULT 0,"
      " PRIMARY KEY (tbl, row_id, col)) STRICT, WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS fb_cells_pending ON fb_cells(local_seq) WHERE pending = 1;"
      "CREATE TABLE IF NOT EXISTS fb_stash ("
      " tbl TEXT NOT NULL, row_id TEXT NOT NULL, root_id TEXT, body TEXT NOT NULL,"
      " PRIMARY KEY (tbl, row_id)) STRICT;"
      "CREATE TABLE IF NOT EXISTS fb_evictions (root_id TEXT PRIMARY KEY NOT NULL) STRICT;"));
  FB_RETURN_IF_ERROR(store.Exec(CreateTableSql(ConflictsTable(), 1)));
  FB_RETURN_IF_ERROR(store.Exec("CREATE INDEX IF NOT EXISTS fb_ix_conflicts_root ON conflicts(root_id)"));
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("INSERT OR IGNORE INTO fb_sync_state(id, site) VALUES (1, ?1)"));
  FB_RETURN_IF_ERROR(st.Bind(1, site).Run());
  return CreateErasureTables(store);
}

// Rows that existed before capture was installed are pending creations, all at one new
// version. The clock moves only when there is something to adopt.
Status AdoptExistingRows(Store& store, const std::vector<const TableSpec*>& tables) {
  bool ticked = false;
  for (const TableSpec* t : tables) {
    FB_ASSIGN_OR_RETURN(Statement any, store.Prepare("SELECT EXISTS (SELECT 1 FROM " + QuoteIdent(t->name) + ")"));
    FB_ASSIGN_OR_RETURN(bool row, any.Step());
    if (!row || any.Int(0) == 0) continue;
    any.Reset();
    if (!ticked) {
      FB_RETURN_IF_ERROR(store.Exec("UPDATE fb_sync_state SET hlc = max(hlc + 1, (" + NowMsSql() +
                                    ") << 16), local_seq = local_seq + 1 WHERE id = 1"));
      ticked = true;
    }
    FB_RETURN_IF_ERROR(store.Exec(
        "INSERT OR IGNORE INTO fb_rows(tbl, row_id, root_id, hlc, site, deleted, pending, local_seq, seen) "
        "SELECT " + SqlLiteral(t->name) + ", x.id, " + RootExpr(*t, "x") +
        ", s.hlc, s.site, 0, 1, s.local_seq, 0 FROM " + QuoteIdent(t->name) + " x, fb_sync_state s WHERE s.id = 1"));
  }
  return Status::Ok();
}

}  // namespace

std::string NowMsSql() {
  return "coalesce((SELECT fixed_now FROM fb_sync_state WHERE id = 1), "
         "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)) + "
         "(SELECT skew_ms FROM fb_sync_state WHERE id = 1)";
}

const TableSpec& ConflictsTable() {
  static const TableSpec table = BuildConflictsTable();
  return table;
}

std::vector<const TableSpec*> SyncedTables(const Store& store) {
  std::vector<const TableSpec*> out;
  for (const auto& t : store.registry().tables()) out.push_back(&t);
  out.push_back(&ConflictsTable());
  out.push_back(&ErasuresTable());
  return out;
}

const TableSpec* FindSyncedTable(const Store& store, std::string_view name) {
  if (name == ConflictsTable().name) return &ConflictsTable();
  if (name == ErasuresTable().name) return &ErasuresTable();
  return store.registry().Find(name);
}

Status AttachSync(Store& store) {
  FB_RETURN_IF_ERROR(store.EnsureComponent({"sync", kSyncSchemaVersion, CreateSyncTables}));
  // Triggers are regenerated whenever their text changes (new columns, new policies).
  const auto tables = SyncedTables(store);
  std::vector<std::string> triggers;
  for (const TableSpec* t : tables) {
    for (auto& sql : TriggersFor(*t)) triggers.push_back(std::move(sql));
  }
  std::string all;
  for (const auto& sql : triggers) all += sql + "\n";
  const std::string fingerprint = HashHex(all);
  FB_ASSIGN_OR_RETURN(std::optional<std::string> installed, store.GetSetting("sync.triggers"));
  if (installed && *installed == fingerprint) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  std::vector<std::string> old;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'fb\\_cap\\_%' ESCAPE '\\'"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      old.push_back(st.String(0));
    }
  }
  for (const auto& name : old) FB_RETURN_IF_ERROR(store.Exec("DROP TRIGGER " + QuoteIdent(name)));
  for (const auto& sql : triggers) FB_RETURN_IF_ERROR(store.Exec(sql));
  if (!installed) FB_RETURN_IF_ERROR(AdoptExistingRows(store, tables));
  FB_RETURN_IF_ERROR(store.SetSetting("sync.triggers", fingerprint));
  return txn.Commit();
}

Result<SyncState> LoadSyncState(Store& store) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT site, hlc, local_seq, cursor, epoch, batch_id, batch_seq, skew_ms, fixed_now FROM fb_sync_state WHERE id = 1"));
  FB_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status(ErrorCode::kNotInitialized, "sync is not attached to " + store.path());
  SyncState s;
  s.site = st.String(0);
  s.hlc = st.Int(1);
  s.local_seq = st.Int(2);
  s.cursor = st.Int(3);
  s.epoch = st.String(4);
  s.batch_id = st.String(5);
  s.batch_seq = st.Int(6);
  s.skew_ms = st.Int(7);
  s.fixed_now = st.OptInt(8);
  return s;
}

Status SetFixedNow(Store& store, std::optional<int64_t> now_ms) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("UPDATE fb_sync_state SET fixed_now = ?1 WHERE id = 1"));
  return st.Bind(1, now_ms).Run();
}

Result<bool> AnyPending(Store& store) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT EXISTS (SELECT 1 FROM fb_rows WHERE pending = 1) OR EXISTS (SELECT 1 FROM fb_cells WHERE pending = 1)"));
  FB_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && st.Int(0) == 1;
}

Result<int64_t> PendingRowCount(Store& store) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT count(*) FROM (SELECT tbl, row_id FROM fb_rows WHERE pending = 1 "
      "UNION SELECT tbl, row_id FROM fb_cells WHERE pending = 1)"));
  FB_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

}  // namespace fieldbook::sync
