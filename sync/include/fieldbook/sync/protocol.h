// Sync protocol v1: one JSON request/response pair per round trip (docs/protocol.md).
//
// POST /v1/sync, body (gzip allowed):
//   {"protocol":1, "site":S, "request":R, "batch":B, "cursor":N, "epoch":E, "limit":L,
//    "changes":[...]}
// reply 200:
//   {"protocol":1, "request":R, "epoch":E, "ack":B, "applied":n, "conflicts":n, "from":N, "cursor":M,
//    "more":bool, "server_time":ms, "rows":[...], "evict":[root ids], "reset":bool}
// A run of creations of one table ("changes") and a run of live rows of one table ("rows")
// may instead be one column block: {"t":T, "r":[ids], "h":[clock deltas], "cols":[names],
// "v":[[one value per row] per column], ...} (docs/protocol.md, "Column blocks"); the
// server answers in blocks only when the request says "blocks":true.
// any error: {"error":{"code":C, "message":M, "field":F, "server_time":ms}} with an HTTP
// status; "field" (the offending input, e.g. "changes[3].c.phone") only when there is one;
// "offset" (the bytes the server holds) only in a blob's offset_mismatch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fieldbook/core/status.h"
#include "fieldbook/core/value.h"
#include "fieldbook/sync/hlc.h"

namespace fieldbook::sync {

inline constexpr int kProtocolVersion = 1;

struct CellVersion {
  Hlc hlc = 0;
  std::string site;
};

// A row as the server holds it and sends it: every non-null cell with its value (a column
// not listed is null); versions are given once for the row and per cell only where they
// differ (null cells included).
struct WireRow {
  std::string table;
  std::string id;
  bool deleted = false;
  Hlc hlc = 0;       // default version of the cells (the tombstone's when deleted)
  std::string site;
  std::vector<std::pair<std::string, Value>> cells;
  std::map<std::string, CellVersion> versions;  // cells whose version differs from (hlc, site)

  CellVersion VersionOf(const std::string& column) const;
};

struct PushCell {
  std::string column;
  Value value;
  Hlc hlc = 0;
  int64_t seen = 0;               // cursor pulled when this cell first diverged
  std::optional<Value> base;      // text_merge: the text the edit started from
};

// One row's local changes: a creation (all cells), an update of some cells, or a deletion.
struct PushChange {
  enum class Op { kCreate, kUpdate, kDelete };
  std::string table;
  std::string id;
  Op op = Op::kUpdate;
  Hlc hlc = 0;       // creation / deletion version; default version of the cells
  int64_t seen = 0;  // default seen of the cells; the deletion's seen
  std::vector<PushCell> cells;
  // An update of a row kept under another row (a visit under its customer): that row's
  // id as the device has it, so a server that does not hold the row (its creation was
  // not kept: the customer was erased or moved away) can still place the update.
  std::string root;
};

struct SyncRequest {
  int protocol = kProtocolVersion;
  std::string site;
  std::string batch_id;   // empty when nothing is pushed
  int64_t cursor = 0;
  std::string epoch;      // server identity the cursor belongs to (empty: first sync)
  int limit = 0;          // rows per page wanted (0: server default)
  int64_t request = 0;    // the device's request number, echoed in the response
  bool blocks = false;    // the device reads rows in column blocks
  std::vector<PushChange> changes;
};

struct SyncResponse {
  int64_t request = 0;    // the request this answers
  std::string epoch;
  std::string acked_batch;
  int64_t applied = 0;
  int64_t conflicts = 0;
  int64_t cursor_from = 0;
  int64_t cursor = 0;
  bool more = false;
  bool reset = false;     // the cursor belongs to another server epoch: start again from 0
  int64_t server_time = 0;
  std::vector<WireRow> rows;
  // Rows already encoded as JSON objects (the server stores them so); written before `rows`.
  std::vector<std::string> raw_rows;
  std::vector<std::string> evict;
  bool blocks = false;    // encode runs of live rows of one table as column blocks
};

struct ErrorBody {
  std::string code;
  std::string message;
  std::string field;  // empty when the error concerns no single field
  int64_t server_time = 0;
};

std::string EncodeRequest(const SyncRequest& request);
// Encodes a request one change at a time, so a large batch is never held as a list of
// changes: the header comes from `header` (its changes are ignored), then Add() each
// change in order and Finish() once.
class RequestWriter {
 public:
  explicit RequestWriter(const SyncRequest& header);
  ~RequestWriter();
  RequestWriter(const RequestWriter&) = delete;
  RequestWriter& operator=(const RequestWriter&) = delete;
  void Add(const PushChange& change);
  void Add(PushChange&& change);  // kept without a copy until its block is written
  int64_t count() const { return count_; }
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t count_ = 0;
};
Result<SyncRequest> DecodeRequest(std::string json);  // parsed in place
std::string EncodeResponse(const SyncResponse& response);
Result<SyncResponse> DecodeResponse(std::string_view json);
Result<SyncResponse> DecodeResponse(std::string&& json);  // parsed in place
std::string EncodeError(const Status& status, int64_t server_time, std::optional<int64_t> offset = std::nullopt);
// Parses an error body; nullopt when the body is not one.
std::optional<ErrorBody> DecodeError(std::string_view json);

// gzip (RFC 1952). Decompression stops with kPayloadTooLarge past max_output bytes.
std::string Gzip(std::string_view data, int level = 6);
// The level a body of this size is compressed at: 6, or with zlib alone (no libdeflate
// in the build) 1 for bulk bodies (an initial sync), trading a little size for much time.
int GzipLevelFor(size_t bytes);
Result<std::string> Gunzip(std::string_view data, size_t max_output);
bool LooksGzipped(std::string_view data);

}  // namespace fieldbook::sync
