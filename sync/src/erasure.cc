#include "fieldbook/sync/erasure.h"

#include "fieldbook/core/ids.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/change_capture.h"

namespace fieldbook::sync {
namespace {

TableSpec BuildErasuresTable() {
  constexpr auto kImmutable = MergePolicy::kImmutable;
  TableBuilder b("erasures", UnderRoot("root_id"));
  b.Since(2)
      .Text("root_id").Required().Merge(kImmutable).MaxLength(64)
      .Text("root_table").Required().Merge(kImmutable).MaxLength(64)
      .Int("erased_at", Format::kTimestamp).Required().Merge(kImmutable)
      .Text("erased_by").Merge(kImmutable).MaxLength(128);
  return std::move(b).Build();
}

// Restores the connection's secure_delete setting when the wipe is done.
class SecureDelete {
 public:
  explicit SecureDelete(Store& store) : store_(store) {
    auto st = store_.Prepare("PRAGMA secure_delete");
    if (st.ok()) {
      auto row = st->Step();
      if (row.ok() && *row) previous_ = st->Int(0);
    }
    (void)store_.Exec("PRAGMA secure_delete=ON");
  }
  ~SecureDelete() {
    if (previous_ >= 0) (void)store_.Exec("PRAGMA secure_delete=" + std::to_string(previous_));
  }

 private:
  Store& store_;
  int64_t previous_ = -1;
};

Status Run(Store& store, const std::string& sql, const std::string& root) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
  return st.Bind(1, root).Run();
}

}  // namespace

const TableSpec& ErasuresTable() {
  static const TableSpec table = BuildErasuresTable();
  return table;
}

Status CreateErasureTables(Store& store) {
  FB_RETURN_IF_ERROR(store.Exec(CreateTableSql(ErasuresTable(), 2)));
  // Capture's guard triggers keep the columns immutable; this one keeps the row.
  return store.Exec(
      "CREATE TRIGGER IF NOT EXISTS fb_erasures_keep BEFORE DELETE ON erasures "
      "WHEN (SELECT applying FROM fb_sync_state) = 0 "
      "BEGIN SELECT RAISE(ABORT, 'fieldbook: an erasure cannot be undone'); END");
}

Status WipeRoot(Store& store, const std::string& root, const std::vector<const TableSpec*>& tables) {
  SecureDelete secure(store);
  // Attachments named only by the erased record go with it.
  FB_ASSIGN_OR_RETURN(std::vector<std::string> blobs, BlobsOfRoot(store, root));
  const std::string erasures = ErasuresTable().name;
  // Children before parents, so no foreign key is left dangling.
  for (auto it = tables.rbegin(); it != tables.rend(); ++it) {
    const TableSpec* t = *it;
    if (t->name == erasures) continue;
    std::string where;
    if (t->partition.kind == PartitionKind::kSelf) {
      where = "id = ?1";
    } else if (t->partition.kind == PartitionKind::kRoot) {
      where = QuoteIdent(t->partition.root_column) + " = ?1";
    } else {
      continue;
    }
    FB_RETURN_IF_ERROR(Run(store, "DELETE FROM " + QuoteIdent(t->name) + " WHERE " + where, root));
  }
  // Version records stay as tombstones (ids are never reused), without values or
  // pending changes; merge bases and stashed rows go.
  FB_RETURN_IF_ERROR(Run(store,
                         "DELETE FROM fb_cells WHERE (tbl, row_id) IN (SELECT tbl, row_id FROM fb_rows "
                         "WHERE root_id = ?1 AND tbl <> 'erasures')",
                         root));
  FB_RETURN_IF_ERROR(Run(store,
                         "UPDATE fb_rows SET deleted = 1, pending = 0, delete_seen = NULL "
                         "WHERE root_id = ?1 AND tbl <> 'erasures'",
                         root));
  FB_RETURN_IF_ERROR(Run(store, "DELETE FROM fb_stash WHERE root_id = ?1 AND tbl <> 'erasures'", root));
  FB_RETURN_IF_ERROR(DropUnreferencedBlobs(store, blobs));
  // Full-text indexes keep deleted tokens in old segments until merged.
  return store.OptimizeFullText();
}

Status EraseRoot(Store& store, const EraseRequest& request) {
  const TableSpec* t = FindSyncedTable(store, request.table);
  if (!t) return Status(ErrorCode::kUnknownField, "no synced table named " + request.table, "table");
  if (t->partition.kind != PartitionKind::kSelf) {
    return Status(ErrorCode::kInvalidArgument, "rows of " + t->name + " are erased with the record they belong to",
                  "table");
  }
  if (!IsUuid(request.id)) return Status(ErrorCode::kInvalidField, "not a record id (UUID)", "id");
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT 1 FROM " + QuoteIdent(t->name) + " WHERE id = ?1"));
    st.Bind(1, request.id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return Status(ErrorCode::kNotFound, "no " + t->name + " row with id " + request.id, "id");
  }
  {
    // Captured like any insert: the erasure is pushed with the next sync.
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "INSERT INTO erasures(id, root_id, root_table, erased_at, erased_by) VALUES (?1, ?1, ?2, ?3, ?4)"));
    st.Bind(1, request.id).Bind(2, t->name).Bind(3, request.now_ms);
    if (request.erased_by.empty()) st.BindNull(4);
    else st.Bind(4, request.erased_by);
    FB_RETURN_IF_ERROR(st.Run());
  }
  FB_RETURN_IF_ERROR(store.Exec("UPDATE fb_sync_state SET applying = 1 WHERE id = 1"));
  Status wiped = WipeRoot(store, request.id, SyncedTables(store));
  Status reset = store.Exec("UPDATE fb_sync_state SET applying = 0 WHERE id = 1");
  FB_RETURN_IF_ERROR(wiped);
  FB_RETURN_IF_ERROR(reset);
  return txn.Commit();
}

UncapturedRunner Uncaptured(Store& store) {
  return [&store](const std::function<Status()>& body) -> Status {
    FB_RETURN_IF_ERROR(store.Exec("UPDATE fb_sync_state SET applying = 1 WHERE id = 1"));
    Status s = body();
    Status reset = store.Exec("UPDATE fb_sync_state SET applying = 0 WHERE id = 1");
    return s.ok() ? reset : s;
  };
}

Result<std::vector<std::string>> ErasedRoots(Store& store) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT id FROM erasures"));
  std::vector<std::string> out;
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.String(0));
  }
  return out;
}

}  // namespace fieldbook::sync
