// Server-side storage of the sync log, behind an interface so the embedded SQLite backend
// and the PostgreSQL backend serve the same service.
//
// Model: the latest state of every row per tenant. A row carries its cells (value,
// version, and the seq at which the value was last written), its root (the customer it
// belongs to, which decides who may see it), and a seq that grows every time the row
// changes or must be re-sent. Pulling is "rows with seq > cursor in my scope".
//
// Invariants every backend keeps:
//  1. Seqs are per tenant, strictly increasing, and become visible in allocation order:
//     writers of one tenant are serialised (BeginWrite) so no reader can see seq n+1
//     before seq n has committed.
//  2. A write session either commits everything it did or nothing.
//  3. Tombstones are kept forever (ids are never reused); roots are kept after deletion.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/status.h"
#include "fieldbook/core/value.h"
#include "fieldbook/sync/hlc.h"

namespace fieldbook::server {

using sync::Hlc;

struct StoredCell {
  Value value;
  Hlc hlc = 0;
  std::string site;
  int64_t wseq = 0;  // seq at which this value was written

  friend bool operator==(const StoredCell& a, const StoredCell& b) {
    return a.value == b.value && a.hlc == b.hlc && a.site == b.site && a.wseq == b.wseq;
  }
};

// How a row is stored: `body` is exactly what devices receive (protocol.md, without the
// table and id): {"h":hlc,"s":site,"c":{non-null cells},"x":{col:[hlc,site] where the
// version differs}} or {"h":hlc,"s":site,"d":1} for a tombstone. `wseqs` holds the seq
// at which each cell was written: {"w":default,"x":{col:seq where it differs}}. A null
// cell at the row's default version is not stored at all.
struct EncodedRow {
  std::string body;
  std::string wseqs;
};

struct StoredRow {
  std::string table;
  std::string id;
  std::string root_id;
  int64_t seq = 0;
  bool deleted = false;
  Hlc deleted_hlc = 0;
  std::string deleted_site;
  std::string echo_site;  // the device that already holds exactly this state, if any
  std::map<std::string, StoredCell> cells;
};

struct RootInfo {
  std::string owner;  // agent; empty for team- or tenant-wide roots
  std::string team;
};

struct ScopeChange {
  int64_t seq = 0;
  std::string root_id;
  RootInfo before;
  RootInfo after;
};

enum class Role { kAgent, kLead, kAdmin };

// Who is asking: decides which roots they may read and write.
struct Scope {
  std::string tenant;
  std::string agent;
  std::string team;
  Role role = Role::kAgent;

  bool Covers(const RootInfo& root) const;
};

// A row as pulled: its stored wire form, sent to devices without being parsed again.
struct PulledRow {
  std::string table;
  std::string id;
  int64_t seq = 0;
  std::string body;  // see EncodeRow
};

struct PullPage {
  std::vector<PulledRow> rows;
  bool more = false;
};

struct DeviceInfo {
  std::string site;
  std::string agent;
  std::string team;
  int64_t last_sync_ms = 0;
  int64_t cursor = 0;
  bool revoked = false;
  bool resync_requested = false;
};

// An attachment's upload state (docs/blobs.md). Bytes live in chunks, in arrival order.
struct BlobInfo {
  std::string sha256;
  int64_t size = 0;      // declared total
  int64_t received = 0;  // bytes stored so far; == size once complete
  bool complete = false;  // every byte arrived and the content hashed to sha256
  int64_t created_ms = 0;
  int64_t touched_ms = 0;  // last upload activity; the GC grace period runs from here
};

// A blob the garbage collector may delete: idle partial uploads, and complete blobs no
// row refers to, both untouched since the cutoff.
struct StaleBlob {
  std::string tenant;
  std::string sha256;
  bool complete = false;
  int64_t size = 0;
};

// One connection's worth of access. Not thread-safe; a backend hands out one per request.
class ServerSession {
 public:
  virtual ~ServerSession() = default;

  virtual Status BeginWrite(const std::string& tenant) = 0;
  virtual Status BeginRead() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;

  virtual Result<int64_t> NextSeq(const std::string& tenant) = 0;
  virtual Result<int64_t> MaxSeq(const std::string& tenant) = 0;
  // Server clock for versions the server itself writes (merges, conflicts).
  virtual Result<Hlc> TickHlc(int64_t now_ms) = 0;

  virtual Result<std::optional<StoredRow>> GetRow(const std::string& tenant, const std::string& table,
                                                   const std::string& id) = 0;
  virtual Status PutRow(const std::string& tenant, const StoredRow& row) = 0;
  // PutRow of a live row already encoded (EncodeLiveRow): `row`'s cells are not read.
  virtual Status PutEncodedRow(const std::string& tenant, const StoredRow& row, const EncodedRow& encoded) = 0;
  // (table, id) of every row under a root.
  virtual Result<std::vector<std::pair<std::string, std::string>>> RowsOfRoot(const std::string& tenant,
                                                                             const std::string& root_id) = 0;
  virtual Status PutRef(const std::string& tenant, const std::string& parent_id, const std::string& child_table,
                        const std::string& child_id) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> Referencing(const std::string& tenant,
                                                                              const std::string& parent_id) = 0;

  virtual Result<std::optional<RootInfo>> GetRoot(const std::string& tenant, const std::string& root_id) = 0;
  virtual Status PutRoot(const std::string& tenant, const std::string& root_id, const RootInfo& info) = 0;
  virtual Status LogScopeChange(const std::string& tenant, const ScopeChange& change) = 0;
  virtual Result<std::vector<ScopeChange>> ScopeChanges(const std::string& tenant, int64_t after_seq,
                                                        int64_t upto_seq) = 0;
  // Every move of one root, in seq order (an index keeps this from reading the whole log).
  virtual Result<std::vector<ScopeChange>> ScopeChangesOf(const std::string& tenant, const std::string& root_id) = 0;

  // Acknowledged batches: (applied, conflicts) when this batch id was committed before.
  virtual Result<std::optional<std::pair<int64_t, int64_t>>> GetBatch(const std::string& tenant, const std::string& site,
                                                                      const std::string& batch_id) = 0;
  virtual Status PutBatch(const std::string& tenant, const std::string& site, const std::string& batch_id,
                          int64_t applied, int64_t conflicts, int64_t now_ms) = 0;

  // Rows after `cursor` in seq order, at most `limit`, and none after the row whose body
  // takes the page past `max_bytes` (a page holds at least one row); `more` when rows follow.
  virtual Result<PullPage> Pull(const Scope& scope, int64_t cursor, int limit, size_t max_bytes,
                                const std::string& site) = 0;

  virtual Status TouchDevice(const std::string& tenant, const DeviceInfo& device) = 0;
  virtual Result<std::optional<DeviceInfo>> GetDevice(const std::string& tenant, const std::string& site) = 0;
  virtual Result<std::vector<DeviceInfo>> ListDevices(const std::string& tenant) = 0;
  virtual Status SetDeviceFlags(const std::string& tenant, const std::string& site, std::optional<bool> revoked,
                                std::optional<bool> resync) = 0;
  virtual Result<bool> TokenRevoked(const std::string& token_id) = 0;
  virtual Status RevokeToken(const std::string& token_id, int64_t now_ms) = 0;

  // Blobs, per tenant (docs/blobs.md). Upload steps run inside BeginWrite(tenant), so
  // they are serialised with the syncs that maintain the reference index.
  virtual Result<std::optional<BlobInfo>> GetBlob(const std::string& tenant, const std::string& sha256) = 0;
  virtual Status PutBlob(const std::string& tenant, const BlobInfo& info) = 0;
  virtual Status PutBlobChunk(const std::string& tenant, const std::string& sha256, int64_t offset,
                              std::string_view bytes) = 0;
  // Bytes [offset, offset + length) of the stored chunks (shorter when fewer are stored).
  virtual Result<std::string> ReadBlob(const std::string& tenant, const std::string& sha256, int64_t offset,
                                       int64_t length) = 0;
  // The blob's state, bytes and grants.
  virtual Status DeleteBlob(const std::string& tenant, const std::string& sha256) = 0;
  // Agents who uploaded (part of) a blob may read it back before any row refers to it.
  virtual Status GrantBlob(const std::string& tenant, const std::string& sha256, const std::string& agent) = 0;
  virtual Result<bool> BlobGranted(const std::string& tenant, const std::string& sha256, const std::string& agent) = 0;
  // Replaces the blobs one cell refers to (the reference index GC and reads consult).
  virtual Status SetBlobRefs(const std::string& tenant, const std::string& table, const std::string& row_id,
                             const std::string& column, const std::vector<std::string>& sha256s) = 0;
  // (table, row id) of every row whose cells refer to the blob.
  virtual Result<std::vector<std::pair<std::string, std::string>>> BlobReferrers(const std::string& tenant,
                                                                                const std::string& sha256) = 0;
  // Candidates for garbage collection in `tenant` (empty: every tenant), at most `limit`.
  virtual Result<std::vector<StaleBlob>> StaleBlobs(const std::string& tenant, int64_t cutoff_ms, int limit) = 0;

  // Health: a trivial query against the database.
  virtual Status Ping() = 0;

  // Inside a write: the rows and roots a batch is about to read, so a backend for which
  // each query is a network round trip can fetch them at once. Only a hint: GetRow and
  // GetRoot must answer the same with or without it.
  virtual Status Prefetch(const std::string& tenant, const std::vector<std::pair<std::string, std::string>>& rows,
                          const std::vector<std::string>& roots) {
    (void)tenant, (void)rows, (void)roots;
    return Status::Ok();
  }
  // Whether Prefetch does anything (callers need not gather what it would fetch).
  virtual bool Prefetches() const { return false; }
};

class ServerBackend {
 public:
  virtual ~ServerBackend() = default;
  virtual Result<std::unique_ptr<ServerSession>> OpenSession() = 0;
  // Random identity chosen when the database was created; devices notice a new one.
  virtual const std::string& epoch() const = 0;
  virtual std::string Describe() const = 0;
};

// The embedded default: one SQLite file in WAL mode. `synchronous` is FULL in
// production (every acknowledged batch survives power loss); simulations pass OFF.
Result<std::unique_ptr<ServerBackend>> OpenSqliteBackend(const std::string& path,
                                                         const std::string& synchronous = "FULL");

EncodedRow EncodeRow(const StoredRow& row);
// One cell of a live row, as EncodeLiveRow reads it.
struct CellView {
  std::string_view column;
  const Value* value = nullptr;
  Hlc hlc = 0;
  std::string_view site;
  int64_t wseq = 0;
};
// EncodeRow of a live row whose cells are `cells`, sorted by column (as StoredRow holds
// them), without building the row.
EncodedRow EncodeLiveRow(const std::vector<CellView>& cells);
// Fills row.cells (and the tombstone fields) from the stored form.
Status DecodeRow(std::string_view body, std::string_view wseqs, StoredRow* row);

// Appends the part of a chunk stored at `chunk_offset` that falls in [offset, offset + length).
void AppendSlice(std::string& out, int64_t chunk_offset, std::string_view chunk, int64_t offset, int64_t length);

}  // namespace fieldbook::server
