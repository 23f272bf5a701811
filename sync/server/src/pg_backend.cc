// The PostgreSQL backend over libpq: one connection per session, prepared statements
// cached per connection, every value passed as a bound text parameter.
//
// Session state machine (PgSession):
//   kIdle  --BeginWrite--> kWrite   BEGIN; tenant counter row locked FOR UPDATE
//   kIdle  --BeginRead---> kRead    BEGIN REPEATABLE READ READ ONLY (one snapshot per page)
//   kWrite --Commit------> kIdle    counters written back, COMMIT
//   any    --Rollback----> kIdle
// Outside a transaction each call is its own autocommit statement.
//
// Seqs and the tenant's server clock are advanced in memory while the counter row is
// locked (no other writer of the tenant can run) and stored at commit, as the SQLite
// backend does, so a batch costs one counter update however many seqs it takes.
//
// Round trips are what a tenant's serialised writers wait on, so inside a write the
// session defers its writes: rows, roots, refs, scope changes, the batch record and the
// device touch are kept in memory (GetRow and GetRoot answer from there first) and sent
// as one multi-statement round trip together with the counter update and COMMIT. Any
// read the overlay cannot answer (RowsOfRoot, Referencing, ScopeChanges, devices, ...)
// sends the deferred writes first, so every read sees the transaction's own writes.
#include "fieldbook/server/pg_backend.h"

#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "fieldbook/core/ids.h"
#include "fieldbook/server/restore.h"

namespace fieldbook::server {
namespace {

// Key of the advisory lock that serialises migrations ("fbmigrat" in ASCII).
constexpr int64_t kMigrationLockKey = 0x66626d6967726174;

// Each entry migrates from version i to i + 1; applied in order inside one transaction.
const char* const kMigrations[] = {
    "CREATE TABLE srv_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE srv_tenants (tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL DEFAULT 0,"
    " hlc BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE srv_rows (tenant TEXT NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL, root_id TEXT NOT NULL,"
    " seq BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, del_hlc BIGINT NOT NULL DEFAULT 0,"
    " del_site TEXT NOT NULL DEFAULT '', echo_site TEXT, body TEXT NOT NULL, wseqs TEXT NOT NULL,"
    " PRIMARY KEY (tenant, tbl, row_id));"
    "CREATE INDEX srv_rows_seq ON srv_rows (tenant, seq);"
    "CREATE INDEX srv_rows_root ON srv_rows (tenant, root_id);"
    "CREATE TABLE srv_roots (tenant TEXT NOT NULL, root_id TEXT NOT NULL, owner TEXT NOT NULL, team TEXT NOT NULL,"
    " PRIMARY KEY (tenant, root_id));"
    "CREATE TABLE srv_scope_log (tenant TEXT NOT NULL, seq BIGINT NOT NULL, root_id TEXT NOT NULL,"
    " old_owner TEXT NOT NULL, old_team TEXT NOT NULL, new_owner TEXT NOT NULL, new_team TEXT NOT NULL,"
    " PRIMARY KEY (tenant, seq));"
    "CREATE TABLE srv_refs (tenant TEXT NOT NULL, parent_id TEXT NOT NULL, child_tbl TEXT NOT NULL,"
    " child_id TEXT NOT NULL, PRIMARY KEY (tenant, parent_id, child_tbl, child_id));"
    "CREATE TABLE srv_batches (tenant TEXT NOT NULL, site TEXT NOT NULL, batch_id TEXT NOT NULL,"
    " applied BIGINT NOT NULL, conflicts BIGINT NOT NULL, created_ms BIGINT NOT NULL,"
    " PRIMARY KEY (tenant, site, batch_id));"
    "CREATE INDEX srv_batches_age ON srv_batches (created_ms);"
    "CREATE TABLE srv_devices (tenant TEXT NOT NULL, site TEXT NOT NULL, agent TEXT NOT NULL, team TEXT NOT NULL,"
    " last_sync_ms BIGINT NOT NULL, cursor BIGINT NOT NULL DEFAULT 0, revoked BOOLEAN NOT NULL DEFAULT FALSE,"
    " resync BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (tenant, site));"
    "CREATE TABLE srv_revoked_tokens (token_id TEXT PRIMARY KEY, revoked_ms BIGINT NOT NULL);",
    // 2: blobs (docs/blobs.md)
    "CREATE TABLE srv_blobs (tenant TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,"
    " received BIGINT NOT NULL, complete BOOLEAN NOT NULL, created_ms BIGINT NOT NULL, touched_ms BIGINT NOT NULL,"
    " PRIMARY KEY (tenant, sha256));"
    "CREATE INDEX srv_blobs_idle ON srv_blobs (touched_ms);"
    "CREATE TABLE srv_blob_chunks (tenant TEXT NOT NULL, sha256 TEXT NOT NULL, off BIGINT NOT NULL,"
    " data BYTEA NOT NULL, PRIMARY KEY (tenant, sha256, off));"
    "CREATE TABLE srv_blob_grants (tenant TEXT NOT NULL, sha256 TEXT NOT NULL, agent TEXT NOT NULL,"
    " PRIMARY KEY (tenant, sha256, agent));"
    "CREATE TABLE srv_blob_refs (tenant TEXT NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, PRIMARY KEY (tenant, tbl, row_id, col, sha256));"
    "CREATE INDEX srv_blob_refs_sha ON srv_blob_refs (tenant, sha256);",
    // 3: one root's moves without reading the tenant's whole move log
    "CREATE INDEX srv_scope_log_root ON srv_scope_log (tenant, root_id, seq);",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, ConnDeleter>;

using Param = std::optional<std::string>;

std::string Trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Transient conditions (lost connection, serialisation failure, overload) are kBusy: the
// API answers 503 and the device retries; nothing was committed.
Status PgError(PGconn* conn, const PGresult* res, const std::string& what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  const std::string message = Trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  const bool transient = PQstatus(conn) != CONNECTION_OK || sqlstate.rfind("08", 0) == 0 ||
                         sqlstate.rfind("53", 0) == 0 || sqlstate.rfind("57P", 0) == 0 || sqlstate == "40001" ||
                         sqlstate == "40P01";
  return Status(transient ? ErrorCode::kBusy : ErrorCode::kInternal,
                "PostgreSQL " + what + " failed" + (sqlstate.empty() ? "" : " (" + sqlstate + ")") + ": " + message);
}

int64_t ToInt(const char* text) { return std::strtoll(text, nullptr, 10); }

// One libpq connection with its prepared statements.
class PgConn {
 public:
  explicit PgConn(PgConnPtr conn) : conn_(std::move(conn)) {}

  static Result<std::unique_ptr<PgConn>> Open(const std::string& uri) {
    PgConnPtr conn(PQconnectdb(uri.c_str()));
    if (!conn) return Status(ErrorCode::kCantOpen, "cannot connect to PostgreSQL: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return Status(ErrorCode::kCantOpen, "cannot connect to PostgreSQL: " + Trimmed(PQerrorMessage(conn.get())));
    }
    auto c = std::make_unique<PgConn>(std::move(conn));
    FB_RETURN_IF_ERROR(c->Configure());
    return c;
  }

  // After the connection broke (database restarted, network cut): connects again. Any
  // transaction it held is gone, as is every prepared statement.
  void Reset() {
    PQreset(conn_.get());
    prepared_.clear();
    if (healthy()) (void)Configure();
  }

  PGconn* raw() { return conn_.get(); }

  // Runs SQL text without parameters (several statements allowed).
  Status Exec(const std::string& sql) {
    PgResult res(PQexec(conn_.get(), sql.c_str()));
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return PgError(conn_.get(), res.get(), "statement");
    return Status::Ok();
  }

  // Runs several statements in one round trip; the result is the last statement's.
  Result<PgResult> ExecScript(const std::string& sql) {
    PgResult res(PQexec(conn_.get(), sql.c_str()));
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return PgError(conn_.get(), res.get(), "statement");
    return res;
  }

  // `sql` with $n replaced by the n-th parameter as a quoted literal (NULL when absent).
  Result<std::string> Inline(const char* sql, const std::vector<std::optional<std::string>>& params) {
    std::string out;
    for (const char* p = sql; *p != '\0'; ++p) {
      if (*p != '$' || !std::isdigit(static_cast<unsigned char>(p[1]))) {
        out += *p;
        continue;
      }
      size_t n = 0;
      while (std::isdigit(static_cast<unsigned char>(p[1]))) n = n * 10 + static_cast<size_t>(*++p - '0');
      if (n == 0 || n > params.size()) return Status(ErrorCode::kInternal, "statement parameter out of range");
      const auto& v = params[n - 1];
      if (!v) {
        out += "NULL";
        continue;
      }
      if (v->find('\0') != std::string::npos) {
        return Status(ErrorCode::kInvalidField, "text must not contain a NUL character");
      }
      char* quoted = PQescapeLiteral(conn_.get(), v->data(), v->size());
      if (quoted == nullptr) return PgError(conn_.get(), nullptr, "quoting");
      out += quoted;
      PQfreemem(quoted);
    }
    return out;
  }

  // Runs a prepared statement (prepared on first use on this connection).
  Result<PgResult> Query(const char* sql, const std::vector<Param>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i] && params[i]->find('\0') != std::string::npos) {
        return Status(ErrorCode::kInvalidField, "text must not contain a NUL character");
      }
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      const std::string name = "fb" + std::to_string(prepared_.size());
      PgResult prep(PQprepare(conn_.get(), name.c_str(), sql, static_cast<int>(params.size()), nullptr));
      if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) return PgError(conn_.get(), prep.get(), "prepare");
      it = prepared_.emplace(sql, name).first;
    }
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) values[i] = params[i] ? params[i]->c_str() : nullptr;
    PgResult res(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(params.size()), values.data(),
                                nullptr, nullptr, 0));
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return PgError(conn_.get(), res.get(), "query");
    return res;
  }

  bool healthy() { return PQstatus(conn_.get()) == CONNECTION_OK; }

 private:
  // Quiet notices ("relation already exists, skipping") and a bounded wait for locks
  // held by a stuck client.
  Status Configure() {
    return Exec("SET client_min_messages = warning; SET lock_timeout = '30s'; SET plan_cache_mode = force_custom_plan");
  }

  PgConnPtr conn_;
  std::unordered_map<const char*, std::string> prepared_;  // SQL text (a literal) -> statement name
};

Param P(const std::string& s) { return s; }
Param P(int64_t v) { return std::to_string(v); }
Param P(bool v) { return std::string(v ? "t" : "f"); }

std::string Str(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}
int64_t Int(const PGresult* r, int row, int col) { return ToInt(PQgetvalue(r, row, col)); }
bool Bool(const PGresult* r, int row, int col) { return PQgetvalue(r, row, col)[0] == 't'; }

class PgSession final : public ServerSession {
 public:
  explicit PgSession(std::unique_ptr<PgConn> conn) : c_(std::move(conn)) {}
  ~PgSession() override { Rollback(); }

  Status BeginWrite(const std::string& tenant) override {
    Rollback();
    in_txn_ = true;
    auto locked = LockTenant(tenant);
    if (!locked.ok()) {
      Rollback();
      return locked;
    }
    return Status::Ok();
  }
  Status BeginRead() override {
    Rollback();
    FB_RETURN_IF_ERROR(c_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    in_txn_ = true;
    return Status::Ok();
  }
  Status Commit() override {
    if (!in_txn_) return Status::Ok();
    Status s = Status::Ok();
    if (dirty_) {
      s = Defer("UPDATE srv_tenants SET seq = $2, hlc = $3 WHERE tenant = $1", {P(write_tenant_), P(seq_), P(hlc_)});
    }
    if (s.ok()) s = c_->ExecScript(deferred_ + "COMMIT").status();
    if (!s.ok() && c_->healthy()) (void)c_->Exec("ROLLBACK");
    Forget();
    return s;
  }
  void Rollback() override {
    if (in_txn_ && c_->healthy()) (void)c_->Exec("ROLLBACK");
    Forget();
    // Sessions go back to the pool through here: a broken one reconnects first.
    if (!c_->healthy()) c_->Reset();
  }

  Result<int64_t> NextSeq(const std::string& tenant) override {
    FB_RETURN_IF_ERROR(CheckWriting(tenant));
    dirty_ = true;
    return ++seq_;
  }
  Result<int64_t> MaxSeq(const std::string& tenant) override {
    if (writing_ && tenant == write_tenant_) return seq_;
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT seq FROM srv_tenants WHERE tenant = $1", {P(tenant)}));
    return PQntuples(r.get()) > 0 ? Int(r.get(), 0, 0) : int64_t{0};
  }
  Result<Hlc> TickHlc(int64_t now_ms) override {
    if (!writing_) return Status(ErrorCode::kInternal, "the server clock ticks only inside a write");
    hlc_ = sync::NextHlc(hlc_, now_ms);
    dirty_ = true;
    return hlc_;
  }

  Result<std::optional<StoredRow>> GetRow(const std::string& tenant, const std::string& table,
                                          const std::string& id) override {
    if (auto it = rows_.find({tenant, table, id}); it != rows_.end()) return std::optional<StoredRow>(it->second);
    if (auto it = known_rows_.find({tenant, table, id}); it != known_rows_.end()) return it->second;
    FB_ASSIGN_OR_RETURN(PgResult r, c_->Query("SELECT root_id, seq, echo_site, body, wseqs FROM srv_rows "
                                              "WHERE tenant = $1 AND tbl = $2 AND row_id = $3",
                                              {P(tenant), P(table), P(id)}));
    if (PQntuples(r.get()) == 0) return std::optional<StoredRow>();
    StoredRow row;
    row.table = table;
    row.id = id;
    row.root_id = Str(r.get(), 0, 0);
    row.seq = Int(r.get(), 0, 1);
    row.echo_site = PQgetisnull(r.get(), 0, 2) ? std::string() : Str(r.get(), 0, 2);
    FB_RETURN_IF_ERROR(DecodeRow(std::string_view(PQgetvalue(r.get(), 0, 3), PQgetlength(r.get(), 0, 3)),
                                 std::string_view(PQgetvalue(r.get(), 0, 4), PQgetlength(r.get(), 0, 4)), &row));
    return std::optional<StoredRow>(std::move(row));
  }
  Status PutRow(const std::string& tenant, const StoredRow& row) override {
    const EncodedRow encoded = EncodeRow(row);
    FB_RETURN_IF_ERROR(WriteRow(tenant, row, encoded));
    if (in_txn_) rows_[{tenant, row.table, row.id}] = row;
    return Status::Ok();
  }
  Status PutEncodedRow(const std::string& tenant, const StoredRow& row, const EncodedRow& encoded) override {
    FB_RETURN_IF_ERROR(WriteRow(tenant, row, encoded));
    if (!in_txn_) return Status::Ok();
    // Kept for GetRow in this transaction as PutRow keeps it: decoding costs less than
    // asking the database again.
    StoredRow kept = row;
    FB_RETURN_IF_ERROR(DecodeRow(encoded.body, encoded.wseqs, &kept));
    rows_[{tenant, row.table, row.id}] = std::move(kept);
    return Status::Ok();
  }
  Status WriteRow(const std::string& tenant, const StoredRow& row, const EncodedRow& encoded) {
    return Write("INSERT INTO srv_rows (tenant, tbl, row_id, root_id, seq, deleted, del_hlc, del_site, echo_site, body,"
               " wseqs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant, tbl, row_id) DO UPDATE"
               " SET root_id = excluded.root_id, seq = excluded.seq, deleted = excluded.deleted,"
               " del_hlc = excluded.del_hlc, del_site = excluded.del_site, echo_site = excluded.echo_site,"
               " body = excluded.body, wseqs = excluded.wseqs",
               {P(tenant), P(row.table), P(row.id), P(row.root_id), P(row.seq), P(row.deleted), P(row.deleted_hlc),
                P(row.deleted_site), row.echo_site.empty() ? Param() : P(row.echo_site), P(encoded.body),
                P(encoded.wseqs)});
  }
  Result<std::vector<std::pair<std::string, std::string>>> RowsOfRoot(const std::string& tenant,
                                                                     const std::string& root_id) override {
    return Pairs("SELECT tbl, row_id FROM srv_rows WHERE tenant = $1 AND root_id = $2 ORDER BY seq",
                 {P(tenant), P(root_id)});
  }
  Status PutRef(const std::string& tenant, const std::string& parent_id, const std::string& child_table,
                const std::string& child_id) override {
    return Write("INSERT INTO srv_refs VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
               {P(tenant), P(parent_id), P(child_table), P(child_id)});
  }
  Result<std::vector<std::pair<std::string, std::string>>> Referencing(const std::string& tenant,
                                                                      const std::string& parent_id) override {
    return Pairs("SELECT child_tbl, child_id FROM srv_refs WHERE tenant = $1 AND parent_id = $2",
                 {P(tenant), P(parent_id)});
  }

  Result<std::optional<RootInfo>> GetRoot(const std::string& tenant, const std::string& root_id) override {
    if (auto it = roots_.find({tenant, root_id}); it != roots_.end()) return std::optional<RootInfo>(it->second);
    if (auto it = known_roots_.find({tenant, root_id}); it != known_roots_.end()) return it->second;
    FB_ASSIGN_OR_RETURN(PgResult r, c_->Query("SELECT owner, team FROM srv_roots WHERE tenant = $1 AND root_id = $2",
                                              {P(tenant), P(root_id)}));
    if (PQntuples(r.get()) == 0) return std::optional<RootInfo>();
    return std::optional<RootInfo>(RootInfo{Str(r.get(), 0, 0), Str(r.get(), 0, 1)});
  }
  Status PutRoot(const std::string& tenant, const std::string& root_id, const RootInfo& info) override {
    if (in_txn_) roots_[{tenant, root_id}] = info;
    return Write("INSERT INTO srv_roots VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, root_id) DO UPDATE SET"
               " owner = excluded.owner, team = excluded.team",
               {P(tenant), P(root_id), P(info.owner), P(info.team)});
  }
  Status LogScopeChange(const std::string& tenant, const ScopeChange& c) override {
    return Write("INSERT INTO srv_scope_log VALUES ($1, $2, $3, $4, $5, $6, $7)",
               {P(tenant), P(c.seq), P(c.root_id), P(c.before.owner), P(c.before.team), P(c.after.owner),
                P(c.after.team)});
  }
  Result<std::vector<ScopeChange>> ScopeChanges(const std::string& tenant, int64_t after, int64_t upto) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT seq, root_id, old_owner, old_team, new_owner, new_team"
                                              " FROM srv_scope_log WHERE tenant = $1 AND seq > $2 AND seq <= $3"
                                              " ORDER BY seq",
                                              {P(tenant), P(after), P(upto)}));
    return Moves(r);
  }
  Result<std::vector<ScopeChange>> ScopeChangesOf(const std::string& tenant, const std::string& root_id) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT seq, root_id, old_owner, old_team, new_owner, new_team"
                                              " FROM srv_scope_log WHERE tenant = $1 AND root_id = $2 ORDER BY seq",
                                              {P(tenant), P(root_id)}));
    return Moves(r);
  }
  static std::vector<ScopeChange> Moves(const PgResult& r) {
    std::vector<ScopeChange> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      const PGresult* x = r.get();
      out.push_back({Int(x, i, 0), Str(x, i, 1), {Str(x, i, 2), Str(x, i, 3)}, {Str(x, i, 4), Str(x, i, 5)}});
    }
    return out;
  }

  Result<std::optional<std::pair<int64_t, int64_t>>> GetBatch(const std::string& tenant, const std::string& site,
                                                              const std::string& batch_id) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT applied, conflicts FROM srv_batches"
                                              " WHERE tenant = $1 AND site = $2 AND batch_id = $3",
                                              {P(tenant), P(site), P(batch_id)}));
    if (PQntuples(r.get()) == 0) return std::optional<std::pair<int64_t, int64_t>>();
    return std::optional<std::pair<int64_t, int64_t>>(std::make_pair(Int(r.get(), 0, 0), Int(r.get(), 0, 1)));
  }
  Status PutBatch(const std::string& tenant, const std::string& site, const std::string& batch_id, int64_t applied,
                  int64_t conflicts, int64_t now_ms) override {
    return Write("INSERT INTO srv_batches VALUES ($1, $2, $3, $4, $5, $6)",
               {P(tenant), P(site), P(batch_id), P(applied), P(conflicts), P(now_ms)});
  }

  Result<PullPage> Pull(const Scope& scope, int64_t cursor, int limit, size_t max_bytes,
                        const std::string& site) override {
    static const char* const kSelect[] = {
        // agent
        "SELECT r.tbl, r.row_id, r.seq, r.body FROM srv_rows r JOIN srv_roots o"
        " ON o.tenant = r.tenant AND o.root_id = r.root_id WHERE r.tenant = $1 AND r.seq > $2"
        " AND r.echo_site IS DISTINCT FROM $3"
        " AND (o.owner = $6 OR (o.owner = '' AND (o.team = $5 OR o.team = ''))) ORDER BY r.seq LIMIT $4",
        // lead
        "SELECT r.tbl, r.row_id, r.seq, r.body FROM srv_rows r JOIN srv_roots o"
        " ON o.tenant = r.tenant AND o.root_id = r.root_id WHERE r.tenant = $1 AND r.seq > $2"
        " AND r.echo_site IS DISTINCT FROM $3"
        " AND (o.team = $5 OR (o.owner = '' AND o.team = '')) ORDER BY r.seq LIMIT $4",
        // admin
        "SELECT r.tbl, r.row_id, r.seq, r.body FROM srv_rows r JOIN srv_roots o"
        " ON o.tenant = r.tenant AND o.root_id = r.root_id WHERE r.tenant = $1 AND r.seq > $2"
        " AND r.echo_site IS DISTINCT FROM $3 ORDER BY r.seq LIMIT $4",
    };
    std::vector<Param> params = {P(scope.tenant), P(cursor), P(site), P(int64_t{limit})};
    const char* sql = kSelect[2];
    if (scope.role == Role::kLead) {
      sql = kSelect[1];
      params.push_back(P(scope.team));
    } else if (scope.role == Role::kAgent) {
      sql = kSelect[0];
      params.push_back(P(scope.team));
      params.push_back(P(scope.agent));
    }
    FB_ASSIGN_OR_RETURN(PgResult r, Read(sql, params));
    PullPage page;
    const int n = PQntuples(r.get());
    page.rows.reserve(static_cast<size_t>(n));
    size_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      if (bytes > max_bytes) {  // full: the rows from here start the next page
        page.more = true;
        return page;
      }
      page.rows.push_back(PulledRow{Str(r.get(), i, 0), Str(r.get(), i, 1), Int(r.get(), i, 2), Str(r.get(), i, 3)});
      bytes += page.rows.back().body.size();
    }
    page.more = n >= limit;
    return page;
  }

  Status TouchDevice(const std::string& tenant, const DeviceInfo& d) override {
    return Write("INSERT INTO srv_devices (tenant, site, agent, team, last_sync_ms, cursor) VALUES ($1, $2, $3, $4, $5, $6)"
               " ON CONFLICT (tenant, site) DO UPDATE SET agent = excluded.agent, team = excluded.team,"
               " last_sync_ms = excluded.last_sync_ms, cursor = excluded.cursor",
               {P(tenant), P(d.site), P(d.agent), P(d.team), P(d.last_sync_ms), P(d.cursor)});
  }
  Result<std::optional<DeviceInfo>> GetDevice(const std::string& tenant, const std::string& site) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT site, agent, team, last_sync_ms, cursor, revoked, resync"
                                              " FROM srv_devices WHERE tenant = $1 AND site = $2",
                                              {P(tenant), P(site)}));
    if (PQntuples(r.get()) == 0) return std::optional<DeviceInfo>();
    return std::optional<DeviceInfo>(ReadDevice(r.get(), 0));
  }
  Result<std::vector<DeviceInfo>> ListDevices(const std::string& tenant) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT site, agent, team, last_sync_ms, cursor, revoked, resync"
                                              " FROM srv_devices WHERE tenant = $1 ORDER BY agent, site",
                                              {P(tenant)}));
    std::vector<DeviceInfo> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(ReadDevice(r.get(), i));
    return out;
  }
  Status SetDeviceFlags(const std::string& tenant, const std::string& site, std::optional<bool> revoked,
                        std::optional<bool> resync) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("UPDATE srv_devices SET revoked = coalesce($3::boolean, revoked),"
                                              " resync = coalesce($4::boolean, resync)"
                                              " WHERE tenant = $1 AND site = $2",
                                              {P(tenant), P(site), revoked ? P(*revoked) : Param(),
                                               resync ? P(*resync) : Param()}));
    if (ToInt(PQcmdTuples(r.get())) == 0) return Status(ErrorCode::kNotFound, "no device " + site + " in tenant " + tenant);
    return Status::Ok();
  }
  Result<bool> TokenRevoked(const std::string& token_id) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT 1 FROM srv_revoked_tokens WHERE token_id = $1", {P(token_id)}));
    return PQntuples(r.get()) > 0;
  }
  Status RevokeToken(const std::string& token_id, int64_t now_ms) override {
    return Run("INSERT INTO srv_revoked_tokens VALUES ($1, $2) ON CONFLICT DO NOTHING", {P(token_id), P(now_ms)});
  }

  // Bytes travel hex-encoded as text parameters and results (bytea's hex format), so
  // the deferred-write path, which inlines parameters as literals, carries them too.
  Result<std::optional<BlobInfo>> GetBlob(const std::string& tenant, const std::string& sha256) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT size, received, complete, created_ms, touched_ms FROM srv_blobs"
                                         " WHERE tenant = $1 AND sha256 = $2",
                                         {P(tenant), P(sha256)}));
    if (PQntuples(r.get()) == 0) return std::optional<BlobInfo>();
    const PGresult* x = r.get();
    return std::optional<BlobInfo>(BlobInfo{sha256, Int(x, 0, 0), Int(x, 0, 1), Bool(x, 0, 2), Int(x, 0, 3), Int(x, 0, 4)});
  }
  Status PutBlob(const std::string& tenant, const BlobInfo& b) override {
    return Write("INSERT INTO srv_blobs VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, sha256) DO UPDATE SET"
                 " size = excluded.size, received = excluded.received, complete = excluded.complete,"
                 " touched_ms = excluded.touched_ms",
                 {P(tenant), P(b.sha256), P(b.size), P(b.received), P(b.complete), P(b.created_ms), P(b.touched_ms)});
  }
  Status PutBlobChunk(const std::string& tenant, const std::string& sha256, int64_t offset,
                      std::string_view bytes) override {
    return Write("INSERT INTO srv_blob_chunks VALUES ($1, $2, $3, decode($4, 'hex')) ON CONFLICT (tenant, sha256, off)"
                 " DO UPDATE SET data = excluded.data",
                 {P(tenant), P(sha256), P(offset),
                  P(HexEncode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))});
  }
  Result<std::string> ReadBlob(const std::string& tenant, const std::string& sha256, int64_t offset,
                               int64_t length) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT off, encode(data, 'hex') FROM srv_blob_chunks WHERE tenant = $1"
                                         " AND sha256 = $2 AND off < $4 AND off + octet_length(data) > $3 ORDER BY off",
                                         {P(tenant), P(sha256), P(offset), P(offset + length)}));
    std::string out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      const std::string hex = Str(r.get(), i, 1);
      std::string chunk(hex.size() / 2, '\0');
      for (size_t k = 0; k < chunk.size(); ++k) {
        auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
        chunk[k] = static_cast<char>((nibble(hex[2 * k]) << 4) | nibble(hex[2 * k + 1]));
      }
      AppendSlice(out, Int(r.get(), i, 0), chunk, offset, length);
    }
    return out;
  }
  Status DeleteBlob(const std::string& tenant, const std::string& sha256) override {
    FB_RETURN_IF_ERROR(Write("DELETE FROM srv_blob_chunks WHERE tenant = $1 AND sha256 = $2", {P(tenant), P(sha256)}));
    FB_RETURN_IF_ERROR(Write("DELETE FROM srv_blob_grants WHERE tenant = $1 AND sha256 = $2", {P(tenant), P(sha256)}));
    return Write("DELETE FROM srv_blobs WHERE tenant = $1 AND sha256 = $2", {P(tenant), P(sha256)});
  }
  Status GrantBlob(const std::string& tenant, const std::string& sha256, const std::string& agent) override {
    return Write("INSERT INTO srv_blob_grants VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                 {P(tenant), P(sha256), P(agent)});
  }
  Result<bool> BlobGranted(const std::string& tenant, const std::string& sha256, const std::string& agent) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT 1 FROM srv_blob_grants WHERE tenant = $1 AND sha256 = $2 AND agent = $3",
                                         {P(tenant), P(sha256), P(agent)}));
    return PQntuples(r.get()) > 0;
  }
  Status SetBlobRefs(const std::string& tenant, const std::string& table, const std::string& row_id,
                     const std::string& column, const std::vector<std::string>& sha256s) override {
    FB_RETURN_IF_ERROR(Write("DELETE FROM srv_blob_refs WHERE tenant = $1 AND tbl = $2 AND row_id = $3 AND col = $4",
                             {P(tenant), P(table), P(row_id), P(column)}));
    for (const auto& sha : sha256s) {
      FB_RETURN_IF_ERROR(Write("INSERT INTO srv_blob_refs VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                               {P(tenant), P(table), P(row_id), P(column), P(sha)}));
    }
    return Status::Ok();
  }
  Result<std::vector<std::pair<std::string, std::string>>> BlobReferrers(const std::string& tenant,
                                                                        const std::string& sha256) override {
    return Pairs("SELECT DISTINCT tbl, row_id FROM srv_blob_refs WHERE tenant = $1 AND sha256 = $2",
                 {P(tenant), P(sha256)});
  }
  Result<std::vector<StaleBlob>> StaleBlobs(const std::string& tenant, int64_t cutoff_ms, int limit) override {
    FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT b.tenant, b.sha256, b.complete, b.size FROM srv_blobs b"
                                         " WHERE ($1 = '' OR b.tenant = $1) AND b.touched_ms < $2 AND (NOT b.complete"
                                         " OR NOT EXISTS (SELECT 1 FROM srv_blob_refs r WHERE r.tenant = b.tenant"
                                         " AND r.sha256 = b.sha256)) LIMIT $3",
                                         {P(tenant), P(cutoff_ms), P(int64_t{limit})}));
    std::vector<StaleBlob> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(StaleBlob{Str(r.get(), i, 0), Str(r.get(), i, 1), Bool(r.get(), i, 2), Int(r.get(), i, 3)});
    }
    return out;
  }

  Status Ping() override { return Run("SELECT count(*) FROM srv_meta", {}); }

  // Two queries for the whole batch. Valid to the end of the write: the tenant's counter
  // row lock keeps every other writer of the tenant out.
  bool Prefetches() const override { return true; }
  Status Prefetch(const std::string& tenant, const std::vector<std::pair<std::string, std::string>>& rows,
                  const std::vector<std::string>& roots) override {
    if (!writing_ || tenant != write_tenant_) return Status::Ok();
    std::vector<std::string> tables, ids;
    for (const auto& [table, id] : rows) {
      if (known_rows_.count({tenant, table, id}) || rows_.count({tenant, table, id})) continue;
      tables.push_back(table);
      ids.push_back(id);
    }
    if (!tables.empty()) {
      FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT r.tbl, r.row_id, r.root_id, r.seq, r.echo_site, r.body, r.wseqs"
                                           " FROM srv_rows r JOIN unnest($2::text[], $3::text[]) AS k(tbl, row_id)"
                                           " ON r.tbl = k.tbl AND r.row_id = k.row_id WHERE r.tenant = $1",
                                           {P(tenant), P(ArrayLiteral(tables)), P(ArrayLiteral(ids))}));
      for (size_t i = 0; i < tables.size(); ++i) known_rows_[{tenant, tables[i], ids[i]}] = std::nullopt;
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        StoredRow row;
        row.table = Str(r.get(), i, 0);
        row.id = Str(r.get(), i, 1);
        row.root_id = Str(r.get(), i, 2);
        row.seq = Int(r.get(), i, 3);
        row.echo_site = PQgetisnull(r.get(), i, 4) ? std::string() : Str(r.get(), i, 4);
        FB_RETURN_IF_ERROR(DecodeRow(std::string_view(PQgetvalue(r.get(), i, 5), PQgetlength(r.get(), i, 5)),
                                     std::string_view(PQgetvalue(r.get(), i, 6), PQgetlength(r.get(), i, 6)), &row));
        known_rows_[{tenant, row.table, row.id}] = std::move(row);
      }
    }
    std::vector<std::string> wanted;
    for (const auto& root : roots) {
      if (!known_roots_.count({tenant, root}) && !roots_.count({tenant, root})) wanted.push_back(root);
    }
    if (!wanted.empty()) {
      FB_ASSIGN_OR_RETURN(PgResult r, Read("SELECT root_id, owner, team FROM srv_roots"
                                           " WHERE tenant = $1 AND root_id = ANY($2::text[])",
                                           {P(tenant), P(ArrayLiteral(wanted))}));
      for (const auto& root : wanted) known_roots_[{tenant, root}] = std::nullopt;
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        known_roots_[{tenant, Str(r.get(), i, 0)}] = RootInfo{Str(r.get(), i, 1), Str(r.get(), i, 2)};
      }
    }
    return Status::Ok();
  }

 private:
  // BEGIN, the tenant's counter row (created on first use) and its lock: one round trip.
  Status LockTenant(const std::string& tenant) {
    FB_ASSIGN_OR_RETURN(std::string insert,
                        c_->Inline("INSERT INTO srv_tenants (tenant) VALUES ($1) ON CONFLICT DO NOTHING;"
                                   "SELECT seq, hlc FROM srv_tenants WHERE tenant = $1 FOR UPDATE",
                                   {P(tenant)}));
    FB_ASSIGN_OR_RETURN(PgResult r, c_->ExecScript("BEGIN;" + insert));
    if (PQntuples(r.get()) != 1) return Status(ErrorCode::kInternal, "tenant counter row missing for " + tenant);
    writing_ = true;
    write_tenant_ = tenant;
    seq_ = Int(r.get(), 0, 0);
    hlc_ = Int(r.get(), 0, 1);
    return Status::Ok();
  }
  Status CheckWriting(const std::string& tenant) const {
    if (!writing_ || tenant != write_tenant_) {
      return Status(ErrorCode::kInternal, "seqs of tenant " + tenant + " are allocated only inside its write");
    }
    return Status::Ok();
  }
  void Forget() {
    in_txn_ = writing_ = dirty_ = false;
    write_tenant_.clear();
    seq_ = hlc_ = 0;
    deferred_.clear();
    rows_.clear();
    roots_.clear();
    known_rows_.clear();
    known_roots_.clear();
  }
  // A PostgreSQL array literal of texts: {"a","b\"c"}.
  static std::string ArrayLiteral(const std::vector<std::string>& items) {
    std::string out = "{";
    for (const auto& item : items) {
      if (out.size() > 1) out += ',';
      out += '"';
      for (char c : item) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    return out + "}";
  }
  // Inside a transaction the write is deferred to the next flush; outside it runs now.
  Status Write(const char* sql, const std::vector<Param>& params) {
    if (!in_txn_) return c_->Query(sql, params).status();
    return Defer(sql, params);
  }
  Status Defer(const char* sql, const std::vector<Param>& params) {
    FB_ASSIGN_OR_RETURN(std::string text, c_->Inline(sql, params));
    deferred_ += text;
    deferred_ += ";\n";
    return Status::Ok();
  }
  // Sends the deferred writes, so that a query sees them.
  Status Flush() {
    if (deferred_.empty()) return Status::Ok();
    std::string script;
    script.swap(deferred_);
    return c_->ExecScript(script).status();
  }
  Status Run(const char* sql, const std::vector<Param>& params) {
    FB_RETURN_IF_ERROR(Flush());
    return c_->Query(sql, params).status();
  }
  Result<PgResult> Read(const char* sql, const std::vector<Param>& params) {
    FB_RETURN_IF_ERROR(Flush());
    return c_->Query(sql, params);
  }
  Result<std::vector<std::pair<std::string, std::string>>> Pairs(const char* sql, const std::vector<Param>& params) {
    FB_ASSIGN_OR_RETURN(PgResult r, Read(sql, params));
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(Str(r.get(), i, 0), Str(r.get(), i, 1));
    return out;
  }
  static DeviceInfo ReadDevice(const PGresult* r, int i) {
    DeviceInfo d;
    d.site = Str(r, i, 0);
    d.agent = Str(r, i, 1);
    d.team = Str(r, i, 2);
    d.last_sync_ms = Int(r, i, 3);
    d.cursor = Int(r, i, 4);
    d.revoked = Bool(r, i, 5);
    d.resync_requested = Bool(r, i, 6);
    return d;
  }

  std::unique_ptr<PgConn> c_;
  bool in_txn_ = false;
  bool writing_ = false;
  bool dirty_ = false;
  std::string write_tenant_;
  int64_t seq_ = 0;
  Hlc hlc_ = 0;
  std::string deferred_;  // statements not yet sent, each ending ";\n"
  std::map<std::tuple<std::string, std::string, std::string>, StoredRow> rows_;  // (tenant, table, id)
  std::map<std::pair<std::string, std::string>, RootInfo> roots_;                // (tenant, root)
  // Read ahead by Prefetch (nullopt: known not to exist); the overlays above win.
  std::map<std::tuple<std::string, std::string, std::string>, std::optional<StoredRow>> known_rows_;
  std::map<std::pair<std::string, std::string>, std::optional<RootInfo>> known_roots_;
};

// Brings the schema to kSchemaVersion (guarantee 1) and returns the database's epoch.
Result<std::string> Migrate(PgConn& c) {
  FB_RETURN_IF_ERROR(c.Exec("BEGIN"));
  auto run = [&]() -> Result<std::string> {
    FB_ASSIGN_OR_RETURN(PgResult lock, c.Query("SELECT pg_advisory_xact_lock($1)", {P(kMigrationLockKey)}));
    FB_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS srv_schema (version INTEGER NOT NULL)"));
    FB_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT version FROM srv_schema", {}));
    int version = 0;
    if (PQntuples(r.get()) == 0) {
      FB_RETURN_IF_ERROR(c.Exec("INSERT INTO srv_schema VALUES (0)"));
    } else {
      version = static_cast<int>(Int(r.get(), 0, 0));
    }
    if (version > kSchemaVersion) {
      return Status(ErrorCode::kSchemaTooNew, "the database has server schema version " + std::to_string(version) +
                                                  ", newer than this server's " + std::to_string(kSchemaVersion) +
                                                  "; upgrade fieldbook-server");
    }
    for (int v = version; v < kSchemaVersion; ++v) FB_RETURN_IF_ERROR(c.Exec(kMigrations[v]));
    FB_ASSIGN_OR_RETURN(PgResult set, c.Query("UPDATE srv_schema SET version = $1", {P(int64_t{kSchemaVersion})}));
    uint8_t bytes[12];
    SystemEnv().RandomBytes(bytes, sizeof bytes);
    FB_ASSIGN_OR_RETURN(PgResult init, c.Query("INSERT INTO srv_meta (key, value) VALUES ('epoch', $1)"
                                               " ON CONFLICT DO NOTHING",
                                               {P(HexEncode(bytes, sizeof bytes))}));
    FB_ASSIGN_OR_RETURN(PgResult epoch, c.Query("SELECT value FROM srv_meta WHERE key = 'epoch'", {}));
    if (PQntuples(epoch.get()) != 1) return Status(ErrorCode::kInternal, "server epoch missing");
    return Str(epoch.get(), 0, 0);
  };
  auto epoch = run();
  if (!epoch.ok()) {
    (void)c.Exec("ROLLBACK");
    return epoch.status();
  }
  FB_RETURN_IF_ERROR(c.Exec("COMMIT"));
  return epoch;
}

// libpq connection strings may carry a password: describe the server by host, port and
// database only.
std::string DescribeConnection(PGconn* conn) {
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  const char* db = PQdb(conn);
  return std::string("postgres:") + (host ? host : "") + ":" + (port ? port : "") + "/" + (db ? db : "");
}

class PgBackend final : public ServerBackend {
 public:
  PgBackend(std::string uri, std::string epoch, std::string description)
      : uri_(std::move(uri)), epoch_(std::move(epoch)), description_(std::move(description)) {}

  Result<std::unique_ptr<ServerSession>> OpenSession() override {
    FB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Open(uri_));
    return std::unique_ptr<ServerSession>(new PgSession(std::move(conn)));
  }
  const std::string& epoch() const override { return epoch_; }
  std::string Describe() const override { return description_; }

 private:
  const std::string uri_;
  const std::string epoch_;
  const std::string description_;
};

}  // namespace

bool PostgresBackendBuilt() { return true; }
int PostgresSchemaVersion() { return kSchemaVersion; }

Result<std::string> RenewPostgresEpoch(const std::string& uri) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Open(uri));
  FB_ASSIGN_OR_RETURN(PgResult exists, conn->Query("SELECT to_regclass('srv_meta') IS NOT NULL", {}));
  if (!Bool(exists.get(), 0, 0)) return Status(ErrorCode::kNotFound, "not a fieldbook-server database");
  uint8_t bytes[12];
  SystemEnv().RandomBytes(bytes, sizeof bytes);
  const std::string epoch = HexEncode(bytes, sizeof bytes);
  FB_ASSIGN_OR_RETURN(PgResult r, conn->Query("UPDATE srv_meta SET value = $1 WHERE key = 'epoch'", {P(epoch)}));
  if (ToInt(PQcmdTuples(r.get())) != 1) return Status(ErrorCode::kNotFound, "the database has no server epoch");
  return epoch;
}

Result<std::unique_ptr<ServerBackend>> OpenPostgresBackend(const std::string& uri) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Open(uri));
  FB_ASSIGN_OR_RETURN(std::string epoch, Migrate(*conn));
  return std::unique_ptr<ServerBackend>(new PgBackend(uri, epoch, DescribeConnection(conn->raw())));
}

}  // namespace fieldbook::server
