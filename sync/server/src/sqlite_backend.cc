// The embedded server backend: one SQLite file, one connection per session.
//
// Checkpoints run beside the writers, not inside their commits: every session's
// connection is watched by the backend's WalCheckpointer (core/wal_checkpointer.h), so a
// commit only appends to the WAL. A commit used to run the checkpoint itself, with a sync
// of the database file, every ~1000 pages: up to 15 ms on top of a batch of 2500 rows.
#include <map>
#include <memory>
#include <mutex>

#include "fieldbook/core/ids.h"
#include "fieldbook/core/wal_checkpointer.h"
#include "fieldbook/core/store.h"
#include "fieldbook/server/server_store.h"

namespace fieldbook::server {
namespace {

const SchemaRegistry& NoSyncedTables() {
  static const SchemaRegistry registry({});
  return registry;
}

// Version 2: blobs (docs/blobs.md).
Status CreateBlobTables(Store& store) {
  return store.Exec(
      "CREATE TABLE srv_blobs (tenant TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
      " received INTEGER NOT NULL, complete INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
      " touched_ms INTEGER NOT NULL, PRIMARY KEY (tenant, sha256)) STRICT, WITHOUT ROWID;"
      "CREATE INDEX srv_blobs_idle ON srv_blobs(touched_ms);"
      "CREATE TABLE srv_blob_chunks (tenant TEXT NOT NULL, sha256 TEXT NOT NULL, off INTEGER NOT NULL,"
      " data BLOB NOT NULL, PRIMARY KEY (tenant, sha256, off)) STRICT;"
      "CREATE TABLE srv_blob_grants (tenant TEXT NOT NULL, sha256 TEXT NOT NULL, agent TEXT NOT NULL,"
      " PRIMARY KEY (tenant, sha256, agent)) STRICT, WITHOUT ROWID;"
      "CREATE TABLE srv_blob_refs (tenant TEXT NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL,"
      " sha256 TEXT NOT NULL, PRIMARY KEY (tenant, tbl, row_id, col, sha256)) STRICT, WITHOUT ROWID;"
      "CREATE INDEX srv_blob_refs_sha ON srv_blob_refs(tenant, sha256);");
}

// Version 3: one root's moves are found without reading the tenant's whole move log.
Status IndexMovesByRoot(Store& store) {
  return store.Exec("CREATE INDEX srv_scope_log_root ON srv_scope_log(tenant, root_id, seq);");
}

Status CreateServerTables(Store& store, int from) {
  if (from >= 1) {
    if (from < 2) FB_RETURN_IF_ERROR(CreateBlobTables(store));
    return from < 3 ? IndexMovesByRoot(store) : Status::Ok();
  }
  FB_RETURN_IF_ERROR(CreateBlobTables(store));
  FB_RETURN_IF_ERROR(store.Exec(
      "CREATE TABLE srv_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
      "CREATE TABLE srv_tenants (tenant TEXT PRIMARY KEY, seq INTEGER NOT NULL DEFAULT 0) STRICT;"
      "CREATE TABLE srv_rows (tenant TEXT NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL, root_id TEXT NOT NULL,"
      " seq INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, del_hlc INTEGER NOT NULL DEFAULT 0,"
      " del_site TEXT NOT NULL DEFAULT '', echo_site TEXT, body TEXT NOT NULL, wseqs TEXT NOT NULL,"
      " PRIMARY KEY (tenant, tbl, row_id)) STRICT;"
      "CREATE INDEX srv_rows_seq ON srv_rows(tenant, seq);"
      "CREATE INDEX srv_rows_root ON srv_rows(tenant, root_id);"
      "CREATE TABLE srv_roots (tenant TEXT NOT NULL, root_id TEXT NOT NULL, owner TEXT NOT NULL, team TEXT NOT NULL,"
      " PRIMARY KEY (tenant, root_id)) STRICT, WITHOUT ROWID;"
      "CREATE TABLE srv_scope_log (tenant TEXT NOT NULL, seq INTEGER NOT NULL, root_id TEXT NOT NULL,"
      " old_owner TEXT NOT NULL, old_team TEXT NOT NULL, new_owner TEXT NOT NULL, new_team TEXT NOT NULL,"
      " PRIMARY KEY (tenant, seq)) STRICT;"
      "CREATE TABLE srv_refs (tenant TEXT NOT NULL, parent_id TEXT NOT NULL, child_tbl TEXT NOT NULL,"
      " child_id TEXT NOT NULL, PRIMARY KEY (tenant, parent_id, child_tbl, child_id)) STRICT, WITHOUT ROWID;"
      "CREATE TABLE srv_batches (tenant TEXT NOT NULL, site TEXT NOT NULL, batch_id TEXT NOT NULL,"
      " applied INTEGER NOT NULL, conflicts INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
      " PRIMARY KEY (tenant, site, batch_id)) STRICT, WITHOUT ROWID;"
      "CREATE INDEX srv_batches_age ON srv_batches(created_ms);"
      "CREATE TABLE srv_devices (tenant TEXT NOT NULL, site TEXT NOT NULL, agent TEXT NOT NULL, team TEXT NOT NULL,"
      " last_sync_ms INTEGER NOT NULL, cursor INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,"
      " resync INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tenant, site)) STRICT, WITHOUT ROWID;"
      "CREATE TABLE srv_revoked_tokens (token_id TEXT PRIMARY KEY, revoked_ms INTEGER NOT NULL) STRICT;"));
  return IndexMovesByRoot(store);
}

class SqliteSession final : public ServerSession {
 public:
  SqliteSession(std::unique_ptr<Store> store, std::mutex* write_mu, std::shared_ptr<WalCheckpointer> checkpointer)
      : store_(std::move(store)), write_mu_(write_mu), checkpointer_(std::move(checkpointer)) {
    if (checkpointer_) checkpointer_->Watch(store_->handle());
  }

  Status BeginWrite(const std::string& tenant) override {
    ForgetCounters();
    // Writers of this process queue on a mutex rather than on SQLite's busy handler,
    // which polls with growing sleeps and lets an unlucky writer wait for seconds.
    if (write_lock_.owns_lock()) write_lock_.unlock();
    write_lock_ = std::unique_lock<std::mutex>(*write_mu_);
    auto begun = store_->Begin(TxnMode::kImmediate);
    if (!begun.ok()) {
      write_lock_ = {};
      return begun.status();
    }
    Transaction txn = std::move(begun).value();
    txn_.emplace(std::move(txn));
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT OR IGNORE INTO srv_tenants(tenant) VALUES (?1)"));
    return st.Bind(1, tenant).Run();
  }
  Status BeginRead() override {
    FB_ASSIGN_OR_RETURN(Transaction txn, store_->Begin(TxnMode::kDeferred));
    txn_.emplace(std::move(txn));
    return Status::Ok();
  }
  Status Commit() override {
    if (!txn_) return Status::Ok();
    // Counters advanced in memory during the write go back to the database with it.
    Status s = FlushCounters();
    if (s.ok()) s = txn_->Commit();
    else (void)txn_->Rollback();
    txn_.reset();
    ForgetCounters();
    write_lock_ = {};
    return s;
  }
  void Rollback() override {
    if (txn_) (void)txn_->Rollback();
    txn_.reset();
    ForgetCounters();
    write_lock_ = {};
  }

  // Seqs and the server clock are advanced in memory while a write transaction holds the
  // database lock (no other writer can interleave) and stored at commit.
  Result<int64_t> NextSeq(const std::string& tenant) override {
    FB_ASSIGN_OR_RETURN(int64_t current, MaxSeq(tenant));
    seq_[tenant] = current + 1;
    seq_dirty_ = true;
    return current + 1;
  }
  Result<int64_t> MaxSeq(const std::string& tenant) override {
    if (auto it = seq_.find(tenant); it != seq_.end()) return it->second;
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("SELECT seq FROM srv_tenants WHERE tenant = ?1"));
    st.Bind(1, tenant);
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    const int64_t seq = row ? st.Int(0) : 0;
    if (txn_) seq_[tenant] = seq;
    return seq;
  }
  Result<Hlc> TickHlc(int64_t now_ms) override {
    if (!hlc_) {
      FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("SELECT value FROM srv_meta WHERE key = 'hlc'"));
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      hlc_ = row ? static_cast<Hlc>(std::stoll(st.String(0))) : 0;
    }
    hlc_ = sync::NextHlc(*hlc_, now_ms);
    hlc_dirty_ = true;
    return *hlc_;
  }

  Result<std::optional<StoredRow>> GetRow(const std::string& tenant, const std::string& table,
                                          const std::string& id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT root_id, seq, echo_site, body, wseqs FROM srv_rows "
        "WHERE tenant = ?1 AND tbl = ?2 AND row_id = ?3"));
    st.Bind(1, tenant).Bind(2, table).Bind(3, id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<StoredRow>();
    StoredRow row;
    row.table = table;
    row.id = id;
    FB_RETURN_IF_ERROR(Fill(st, 0, row));
    return std::optional<StoredRow>(std::move(row));
  }
  Status PutRow(const std::string& tenant, const StoredRow& row) override {
    return PutEncodedRow(tenant, row, EncodeRow(row));
  }
  Status PutEncodedRow(const std::string& tenant, const StoredRow& row, const EncodedRow& encoded) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "INSERT INTO srv_rows(tenant, tbl, row_id, root_id, seq, deleted, del_hlc, del_site, echo_site, body, wseqs) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(tenant, tbl, row_id) DO UPDATE SET "
        "root_id = excluded.root_id, seq = excluded.seq, deleted = excluded.deleted, del_hlc = excluded.del_hlc, "
        "del_site = excluded.del_site, echo_site = excluded.echo_site, body = excluded.body, wseqs = excluded.wseqs"));
    st.Bind(1, tenant).Bind(2, row.table).Bind(3, row.id).Bind(4, row.root_id).Bind(5, row.seq)
        .Bind(6, int64_t{row.deleted ? 1 : 0}).Bind(7, row.deleted_hlc).Bind(8, row.deleted_site);
    if (row.echo_site.empty()) st.BindNull(9); else st.Bind(9, row.echo_site);
    st.Bind(10, encoded.body).Bind(11, encoded.wseqs);
    return st.Run();
  }
  Result<std::vector<std::pair<std::string, std::string>>> RowsOfRoot(const std::string& tenant,
                                                                     const std::string& root_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT tbl, row_id FROM srv_rows WHERE tenant = ?1 AND root_id = ?2 ORDER BY seq"));
    st.Bind(1, tenant).Bind(2, root_id);
    return Pairs(st);
  }
  Status PutRef(const std::string& tenant, const std::string& parent_id, const std::string& child_table,
                const std::string& child_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT OR IGNORE INTO srv_refs VALUES (?1, ?2, ?3, ?4)"));
    return st.Bind(1, tenant).Bind(2, parent_id).Bind(3, child_table).Bind(4, child_id).Run();
  }
  Result<std::vector<std::pair<std::string, std::string>>> Referencing(const std::string& tenant,
                                                                      const std::string& parent_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT child_tbl, child_id FROM srv_refs WHERE tenant = ?1 AND parent_id = ?2"));
    st.Bind(1, tenant).Bind(2, parent_id);
    return Pairs(st);
  }

  Result<std::optional<RootInfo>> GetRoot(const std::string& tenant, const std::string& root_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT owner, team FROM srv_roots WHERE tenant = ?1 AND root_id = ?2"));
    st.Bind(1, tenant).Bind(2, root_id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<RootInfo>();
    return std::optional<RootInfo>(RootInfo{st.String(0), st.String(1)});
  }
  Status PutRoot(const std::string& tenant, const std::string& root_id, const RootInfo& info) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "INSERT INTO srv_roots VALUES (?1, ?2, ?3, ?4) ON CONFLICT(tenant, root_id) DO UPDATE SET "
        "owner = excluded.owner, team = excluded.team"));
    return st.Bind(1, tenant).Bind(2, root_id).Bind(3, info.owner).Bind(4, info.team).Run();
  }
  Status LogScopeChange(const std::string& tenant, const ScopeChange& c) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT INTO srv_scope_log VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    return st.Bind(1, tenant).Bind(2, c.seq).Bind(3, c.root_id).Bind(4, c.before.owner).Bind(5, c.before.team)
        .Bind(6, c.after.owner).Bind(7, c.after.team).Run();
  }
  Result<std::vector<ScopeChange>> ScopeChanges(const std::string& tenant, int64_t after, int64_t upto) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT seq, root_id, old_owner, old_team, new_owner, new_team FROM srv_scope_log "
        "WHERE tenant = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq"));
    st.Bind(1, tenant).Bind(2, after).Bind(3, upto);
    return ReadMoves(st);
  }
  Result<std::vector<ScopeChange>> ScopeChangesOf(const std::string& tenant, const std::string& root_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT seq, root_id, old_owner, old_team, new_owner, new_team FROM srv_scope_log "
        "WHERE tenant = ?1 AND root_id = ?2 ORDER BY seq"));
    st.Bind(1, tenant).Bind(2, root_id);
    return ReadMoves(st);
  }
  static Result<std::vector<ScopeChange>> ReadMoves(Statement& st) {
    std::vector<ScopeChange> out;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.Int(0), st.String(1), {st.String(2), st.String(3)}, {st.String(4), st.String(5)}});
    }
    return out;
  }

  Result<std::optional<std::pair<int64_t, int64_t>>> GetBatch(const std::string& tenant, const std::string& site,
                                                              const std::string& batch_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT applied, conflicts FROM srv_batches WHERE tenant = ?1 AND site = ?2 AND batch_id = ?3"));
    st.Bind(1, tenant).Bind(2, site).Bind(3, batch_id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<std::pair<int64_t, int64_t>>();
    return std::optional<std::pair<int64_t, int64_t>>(std::make_pair(st.Int(0), st.Int(1)));
  }
  Status PutBatch(const std::string& tenant, const std::string& site, const std::string& batch_id, int64_t applied,
                  int64_t conflicts, int64_t now_ms) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT INTO srv_batches VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    return st.Bind(1, tenant).Bind(2, site).Bind(3, batch_id).Bind(4, applied).Bind(5, conflicts).Bind(6, now_ms).Run();
  }

  Result<PullPage> Pull(const Scope& scope, int64_t cursor, int limit, size_t max_bytes,
                        const std::string& site) override {
    std::string filter;
    switch (scope.role) {
      case Role::kAdmin: filter = "1"; break;
      case Role::kLead: filter = "(o.team = ?5 OR (o.owner = '' AND o.team = ''))"; break;
      case Role::kAgent: filter = "(o.owner = ?6 OR (o.owner = '' AND (o.team = ?5 OR o.team = '')))"; break;
    }
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT r.tbl, r.row_id, r.seq, r.body "
        "FROM srv_rows r JOIN srv_roots o ON o.tenant = r.tenant AND o.root_id = r.root_id "
        "WHERE r.tenant = ?1 AND r.seq > ?2 AND (r.echo_site IS NULL OR r.echo_site <> ?3) AND " + filter +
        " ORDER BY r.seq LIMIT ?4"));
    st.Bind(1, scope.tenant).Bind(2, cursor).Bind(3, site).Bind(4, int64_t{limit});
    if (scope.role != Role::kAdmin) st.Bind(5, scope.team);
    if (scope.role == Role::kAgent) st.Bind(6, scope.agent);
    PullPage page;
    size_t bytes = 0;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (bytes > max_bytes) {  // full: this row, not read, starts the next page
        page.more = true;
        return page;
      }
      page.rows.push_back(PulledRow{st.String(0), st.String(1), st.Int(2), st.String(3)});
      bytes += page.rows.back().body.size();
    }
    page.more = static_cast<int>(page.rows.size()) >= limit;
    return page;
  }

  Status TouchDevice(const std::string& tenant, const DeviceInfo& d) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "INSERT INTO srv_devices(tenant, site, agent, team, last_sync_ms, cursor) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT(tenant, site) DO UPDATE SET agent = excluded.agent, team = excluded.team, "
        "last_sync_ms = excluded.last_sync_ms, cursor = excluded.cursor"));
    return st.Bind(1, tenant).Bind(2, d.site).Bind(3, d.agent).Bind(4, d.team).Bind(5, d.last_sync_ms)
        .Bind(6, d.cursor).Run();
  }
  Result<std::optional<DeviceInfo>> GetDevice(const std::string& tenant, const std::string& site) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT site, agent, team, last_sync_ms, cursor, revoked, resync FROM srv_devices WHERE tenant = ?1 AND site = ?2"));
    st.Bind(1, tenant).Bind(2, site);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<DeviceInfo>();
    return std::optional<DeviceInfo>(ReadDevice(st));
  }
  Result<std::vector<DeviceInfo>> ListDevices(const std::string& tenant) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT site, agent, team, last_sync_ms, cursor, revoked, resync FROM srv_devices WHERE tenant = ?1 "
        "ORDER BY agent, site"));
    st.Bind(1, tenant);
    std::vector<DeviceInfo> out;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(ReadDevice(st));
    }
    return out;
  }
  Status SetDeviceFlags(const std::string& tenant, const std::string& site, std::optional<bool> revoked,
                        std::optional<bool> resync) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "UPDATE srv_devices SET revoked = coalesce(?3, revoked), resync = coalesce(?4, resync) "
        "WHERE tenant = ?1 AND site = ?2"));
    st.Bind(1, tenant).Bind(2, site);
    if (revoked) st.Bind(3, int64_t{*revoked ? 1 : 0}); else st.BindNull(3);
    if (resync) st.Bind(4, int64_t{*resync ? 1 : 0}); else st.BindNull(4);
    FB_RETURN_IF_ERROR(st.Run());
    if (store_->changes() == 0) return Status(ErrorCode::kNotFound, "no device " + site + " in tenant " + tenant);
    return Status::Ok();
  }
  Result<bool> TokenRevoked(const std::string& token_id) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("SELECT 1 FROM srv_revoked_tokens WHERE token_id = ?1"));
    st.Bind(1, token_id);
    return st.Step();
  }
  Status RevokeToken(const std::string& token_id, int64_t now_ms) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT OR IGNORE INTO srv_revoked_tokens VALUES (?1, ?2)"));
    return st.Bind(1, token_id).Bind(2, now_ms).Run();
  }

  Result<std::optional<BlobInfo>> GetBlob(const std::string& tenant, const std::string& sha256) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT size, received, complete, created_ms, touched_ms FROM srv_blobs WHERE tenant = ?1 AND sha256 = ?2"));
    st.Bind(1, tenant).Bind(2, sha256);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<BlobInfo>();
    return std::optional<BlobInfo>(BlobInfo{sha256, st.Int(0), st.Int(1), st.Int(2) != 0, st.Int(3), st.Int(4)});
  }
  Status PutBlob(const std::string& tenant, const BlobInfo& b) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "INSERT INTO srv_blobs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(tenant, sha256) DO UPDATE SET "
        "size = excluded.size, received = excluded.received, complete = excluded.complete, "
        "touched_ms = excluded.touched_ms"));
    return st.Bind(1, tenant).Bind(2, b.sha256).Bind(3, b.size).Bind(4, b.received)
        .Bind(5, int64_t{b.complete ? 1 : 0}).Bind(6, b.created_ms).Bind(7, b.touched_ms).Run();
  }
  Status PutBlobChunk(const std::string& tenant, const std::string& sha256, int64_t offset,
                      std::string_view bytes) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT OR REPLACE INTO srv_blob_chunks VALUES (?1, ?2, ?3, ?4)"));
    static const char kEmpty = 0;
    return st.Bind(1, tenant).Bind(2, sha256).Bind(3, offset)
        .BindBlob(4, bytes.empty() ? &kEmpty : bytes.data(), bytes.size()).Run();
  }
  Result<std::string> ReadBlob(const std::string& tenant, const std::string& sha256, int64_t offset,
                               int64_t length) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT off, data FROM srv_blob_chunks WHERE tenant = ?1 AND sha256 = ?2 AND off < ?4 "
        "AND off + length(data) > ?3 ORDER BY off"));
    st.Bind(1, tenant).Bind(2, sha256).Bind(3, offset).Bind(4, offset + length);
    std::string out;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      AppendSlice(out, st.Int(0), st.Text(1), offset, length);
    }
    return out;
  }
  Status DeleteBlob(const std::string& tenant, const std::string& sha256) override {
    for (const char* sql : {"DELETE FROM srv_blob_chunks WHERE tenant = ?1 AND sha256 = ?2",
                            "DELETE FROM srv_blob_grants WHERE tenant = ?1 AND sha256 = ?2",
                            "DELETE FROM srv_blobs WHERE tenant = ?1 AND sha256 = ?2"}) {
      FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(sql));
      FB_RETURN_IF_ERROR(st.Bind(1, tenant).Bind(2, sha256).Run());
    }
    return Status::Ok();
  }
  Status GrantBlob(const std::string& tenant, const std::string& sha256, const std::string& agent) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("INSERT OR IGNORE INTO srv_blob_grants VALUES (?1, ?2, ?3)"));
    return st.Bind(1, tenant).Bind(2, sha256).Bind(3, agent).Run();
  }
  Result<bool> BlobGranted(const std::string& tenant, const std::string& sha256, const std::string& agent) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT 1 FROM srv_blob_grants WHERE tenant = ?1 AND sha256 = ?2 AND agent = ?3"));
    st.Bind(1, tenant).Bind(2, sha256).Bind(3, agent);
    return st.Step();
  }
  Status SetBlobRefs(const std::string& tenant, const std::string& table, const std::string& row_id,
                     const std::string& column, const std::vector<std::string>& sha256s) override {
    FB_ASSIGN_OR_RETURN(Statement del, store_->Prepare(
        "DELETE FROM srv_blob_refs WHERE tenant = ?1 AND tbl = ?2 AND row_id = ?3 AND col = ?4"));
    FB_RETURN_IF_ERROR(del.Bind(1, tenant).Bind(2, table).Bind(3, row_id).Bind(4, column).Run());
    del.Reset();
    FB_ASSIGN_OR_RETURN(Statement ins, store_->Prepare("INSERT OR IGNORE INTO srv_blob_refs VALUES (?1, ?2, ?3, ?4, ?5)"));
    for (const auto& sha : sha256s) {
      FB_RETURN_IF_ERROR(ins.Bind(1, tenant).Bind(2, table).Bind(3, row_id).Bind(4, column).Bind(5, sha).Run());
      ins.Reset();
    }
    return Status::Ok();
  }
  Result<std::vector<std::pair<std::string, std::string>>> BlobReferrers(const std::string& tenant,
                                                                        const std::string& sha256) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT DISTINCT tbl, row_id FROM srv_blob_refs WHERE tenant = ?1 AND sha256 = ?2"));
    st.Bind(1, tenant).Bind(2, sha256);
    return Pairs(st);
  }
  Result<std::vector<StaleBlob>> StaleBlobs(const std::string& tenant, int64_t cutoff_ms, int limit) override {
    FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
        "SELECT b.tenant, b.sha256, b.complete, b.size FROM srv_blobs b WHERE (?1 = '' OR b.tenant = ?1) "
        "AND b.touched_ms < ?2 AND (b.complete = 0 OR NOT EXISTS (SELECT 1 FROM srv_blob_refs r "
        "WHERE r.tenant = b.tenant AND r.sha256 = b.sha256)) LIMIT ?3"));
    st.Bind(1, tenant).Bind(2, cutoff_ms).Bind(3, int64_t{limit});
    std::vector<StaleBlob> out;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(StaleBlob{st.String(0), st.String(1), st.Int(2) != 0, st.Int(3)});
    }
    return out;
  }

  Status Ping() override { return store_->Exec("SELECT count(*) FROM srv_meta"); }

 private:
  static DeviceInfo ReadDevice(const Statement& st) {
    DeviceInfo d;
    d.site = st.String(0);
    d.agent = st.String(1);
    d.team = st.String(2);
    d.last_sync_ms = st.Int(3);
    d.cursor = st.Int(4);
    d.revoked = st.Int(5) != 0;
    d.resync_requested = st.Int(6) != 0;
    return d;
  }
  static Status Fill(const Statement& st, int c, StoredRow& row) {
    row.root_id = st.String(c);
    row.seq = st.Int(c + 1);
    row.echo_site = st.IsNull(c + 2) ? std::string() : st.String(c + 2);
    return DecodeRow(st.Text(c + 3), st.Text(c + 4), &row);
  }

  Status FlushCounters() {
    for (const auto& [tenant, seq] : seq_dirty_ ? seq_ : std::map<std::string, int64_t>{}) {
      FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare("UPDATE srv_tenants SET seq = ?2 WHERE tenant = ?1 AND seq < ?2"));
      FB_RETURN_IF_ERROR(st.Bind(1, tenant).Bind(2, seq).Run());
    }
    if (hlc_dirty_) {
      FB_ASSIGN_OR_RETURN(Statement st, store_->Prepare(
          "INSERT INTO srv_meta(key, value) VALUES ('hlc', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
      FB_RETURN_IF_ERROR(st.Bind(1, std::to_string(*hlc_)).Run());
    }
    return Status::Ok();
  }
  void ForgetCounters() {
    seq_.clear();
    seq_dirty_ = false;
    hlc_.reset();
    hlc_dirty_ = false;
  }
  static Result<std::vector<std::pair<std::string, std::string>>> Pairs(Statement& st) {
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.emplace_back(st.String(0), st.String(1));
    }
    return out;
  }

  std::unique_ptr<Store> store_;
  std::mutex* const write_mu_;                // the backend's, shared by its sessions
  const std::shared_ptr<WalCheckpointer> checkpointer_;  // outlives the connection's WAL hook
  std::unique_lock<std::mutex> write_lock_;  // held from BeginWrite to Commit/Rollback
  std::optional<Transaction> txn_;
  std::map<std::string, int64_t> seq_;  // tenant -> last seq allocated in this write
  bool seq_dirty_ = false;
  std::optional<Hlc> hlc_;
  bool hlc_dirty_ = false;
};

class SqliteBackend final : public ServerBackend {
 public:
  SqliteBackend(std::string path, std::string epoch, std::string synchronous, const Store& store)
      : path_(std::move(path)),
        epoch_(std::move(epoch)),
        synchronous_(std::move(synchronous)),
        checkpointer_(WalCheckpointer::Start(store.handle())) {}

  Result<std::unique_ptr<ServerSession>> OpenSession() override {
    FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(path_, synchronous_));
    return std::unique_ptr<ServerSession>(new SqliteSession(std::move(store), &write_mu_, checkpointer_));
  }
  const std::string& epoch() const override { return epoch_; }
  std::string Describe() const override { return "sqlite:" + path_; }

  static Result<std::unique_ptr<Store>> OpenStore(const std::string& path, const std::string& synchronous) {
    StoreOptions options;
    options.synchronous = synchronous;
    options.registry = &NoSyncedTables();
    options.busy_timeout_ms = 30000;
    FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(path, options));
    FB_RETURN_IF_ERROR(store->EnsureComponent({"server", 3, CreateServerTables}));
    // Replaced and erased values are overwritten, not left in freed pages.
    FB_RETURN_IF_ERROR(store->Exec("PRAGMA secure_delete=ON"));
    return store;
  }

 private:
  std::string path_;
  std::string epoch_;
  std::string synchronous_;
  std::mutex write_mu_;
  std::shared_ptr<WalCheckpointer> checkpointer_;  // null on one core: sessions checkpoint themselves
};

}  // namespace

Result<std::unique_ptr<ServerBackend>> OpenSqliteBackend(const std::string& path, const std::string& synchronous) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, SqliteBackend::OpenStore(path, synchronous));
  uint8_t bytes[12];
  store->env().RandomBytes(bytes, sizeof bytes);
  FB_ASSIGN_OR_RETURN(Statement init, store->Prepare("INSERT OR IGNORE INTO srv_meta(key, value) VALUES ('epoch', ?1)"));
  FB_RETURN_IF_ERROR(init.Bind(1, HexEncode(bytes, sizeof bytes)).Run());
  FB_ASSIGN_OR_RETURN(Statement read, store->Prepare("SELECT value FROM srv_meta WHERE key = 'epoch'"));
  FB_ASSIGN_OR_RETURN(bool row, read.Step());
  if (!row) return Status(ErrorCode::kInternal, "server epoch missing");
  const std::string epoch = read.String(0);
  read.Reset();
  return std::unique_ptr<ServerBackend>(new SqliteBackend(path, epoch, synchronous, *store));
}

}  // namespace fieldbook::server
