// SyncClient round trips: batch preparation, sending, acknowledgement and clock repair.
#include <algorithm>
#include <memory>
#include <optional>

#include "fieldbook/core/ids.h"
#include "fieldbook/core/wal_checkpointer.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/client.h"
#include "http_refusal.h"

namespace fieldbook::sync {
namespace {

// A server's page stops at 8 MiB of rows plus one row (a row is at most a 64 MiB request).
constexpr size_t kMaxResponseBytes = 128u << 20;
constexpr size_t kGzipThreshold = 1024;

// Sync bookkeeping commits (batch ids, cursors, pulled pages) need not reach the disk
// before the next step: a device that loses the latest of them to a power cut pulls or
// pushes again, and the server's merge makes a repeated push harmless. Local edits keep
// the store's own durability; this only applies while SyncClient::Sync runs.
//
// Nor does a sync read through the store's memory map: a pull touches pages all over a
// growing file, and every page touched through the map stays in the process's resident
// set (pulling 100k customers: 65 MB of mapped file besides 31 MB of its own memory).
// Read into SQLite's page cache instead, the pull's footprint stays that of its pages.
//
// And the pages a pull writes are checkpointed beside it (WalCheckpointer) rather than
// by every other page's commit.
class SyncSettings {
 public:
  explicit SyncSettings(Store& store) : store_(store) {
    synchronous_ = Get("synchronous");
    mmap_size_ = Get("mmap_size");
    autocheckpoint_ = Get("wal_autocheckpoint");
    (void)store_.Exec("PRAGMA synchronous=NORMAL");
    (void)store_.Exec("PRAGMA mmap_size=0");
    if (autocheckpoint_ > 0) checkpointer_ = WalCheckpointer::Start(store_.handle());
    if (checkpointer_) checkpointer_->Watch(store_.handle());
  }
  ~SyncSettings() {
    if (checkpointer_) {
      WalCheckpointer::Unwatch(store_.handle(), static_cast<int>(autocheckpoint_));
      checkpointer_.reset();
    }
    if (synchronous_ >= 0) (void)store_.Exec("PRAGMA synchronous=" + std::to_string(synchronous_));
    if (mmap_size_ >= 0) (void)store_.Exec("PRAGMA mmap_size=" + std::to_string(mmap_size_));
  }

 private:
  int64_t Get(const char* pragma) {
    auto st = store_.Prepare(std::string("PRAGMA ") + pragma);
    if (!st.ok()) return -1;
    auto row = st->Step();
    return row.ok() && *row ? st->Int(0) : -1;
  }

  Store& store_;
  int64_t synchronous_ = -1;
  int64_t mmap_size_ = -1;
  int64_t autocheckpoint_ = -1;
  std::unique_ptr<WalCheckpointer> checkpointer_;
};

// The default exchange: Send, on the calling thread, when the caller waits for it.
class DeferredExchange : public PendingExchange {
 public:
  DeferredExchange(Transport& transport, HttpRequest request) : transport_(transport), request_(std::move(request)) {}
  Result<HttpResponse> Wait() override { return transport_.Send(request_); }

 private:
  Transport& transport_;
  HttpRequest request_;
};

HttpRequest WireRequest(std::string body, const SyncOptions& options) {
  HttpRequest http;
  http.path = "/v1/sync";
  http.headers = {{"Content-Type", "application/json"}, {"Accept-Encoding", "gzip"}};
  if (!options.token.empty()) http.headers.emplace_back("Authorization", "Bearer " + options.token);
  if (body.size() > kGzipThreshold) {
    body = Gzip(body, GzipLevelFor(body.size()));
    http.headers.emplace_back("Content-Encoding", "gzip");
  }
  http.body = std::move(body);
  return http;
}

}  // namespace

std::unique_ptr<PendingExchange> Transport::Start(HttpRequest request) {
  return std::make_unique<DeferredExchange>(*this, std::move(request));
}

Result<int64_t> SyncClient::NextBoundary(const SyncOptions& options, int64_t after, int64_t local_seq, int limit) {
  FB_ASSIGN_OR_RETURN(Statement first, store_.Prepare(
      // A compound ORDER BY merges the two pending indexes instead of sorting.
      "SELECT local_seq FROM fb_rows WHERE pending = 1 AND local_seq > ?2 "
      "UNION ALL SELECT local_seq FROM fb_cells WHERE pending = 1 AND local_seq > ?2 ORDER BY 1 LIMIT 1 OFFSET ?1"));
  first.Bind(1, static_cast<int64_t>(std::max(1, limit))).Bind(2, after);
  FB_ASSIGN_OR_RETURN(bool over, first.Step());
  int64_t boundary = over ? first.Int(0) - 1 : local_seq;
  first.Reset();
  if (over) {
    // The cells of one write share its local_seq and travel together: when more of them
    // than a batch holds come first, the batch takes that whole write.
    first.Bind(1, int64_t{0}).Bind(2, after);
    FB_ASSIGN_OR_RETURN(bool any_pending, first.Step());
    if (any_pending) boundary = std::max(boundary, first.Int(0));
    first.Reset();
    // A customer deleted here took its archive with it, one tombstone per row: they go
    // up together, or a child's tombstone could be kept while the customer's deletion,
    // in a later batch, loses to a concurrent edit.
    FB_ASSIGN_OR_RETURN(Statement cascade, store_.Prepare(
        "SELECT max(o.local_seq) FROM fb_rows d JOIN fb_rows o ON o.root_id = d.root_id "
        "WHERE d.pending = 1 AND d.deleted = 1 AND d.local_seq > ?2 AND d.local_seq <= ?1 AND o.pending = 1 "
        "AND o.deleted = 1"));
    cascade.Bind(1, boundary).Bind(2, after);
    FB_ASSIGN_OR_RETURN(bool row, cascade.Step());
    if (row && !cascade.IsNull(0)) boundary = std::max(boundary, cascade.Int(0));
  }
  FB_ASSIGN_OR_RETURN(Statement any, store_.Prepare(
      "SELECT EXISTS (SELECT 1 FROM fb_rows WHERE pending = 1 AND local_seq > ?2 AND local_seq <= ?1) OR "
      "EXISTS (SELECT 1 FROM fb_cells WHERE pending = 1 AND local_seq > ?2 AND local_seq <= ?1)"));
  any.Bind(1, boundary).Bind(2, after);
  FB_ASSIGN_OR_RETURN(bool row, any.Step());
  return row && any.Int(0) == 1 ? boundary : 0;
}

Status SyncClient::EncodeBatch(const SyncState& state, const SyncOptions& options, const SyncResponse* ahead,
                               Batch& batch) {
  SyncRequest header;
  header.request = batch.request;
  header.site = state.site;
  header.batch_id = batch.id;
  header.cursor = ahead ? ahead->cursor : state.cursor;
  header.epoch = ahead ? ahead->epoch : state.epoch;
  batch.cursor = header.cursor;
  batch.ahead = ahead != nullptr;
  header.limit = options.page_limit;
  header.blocks = true;
  RequestWriter writer(header);
  if (!batch.id.empty()) {
    // The newest stamp the batch carries (the same on every retry): once acknowledged,
    // the server holds it and a clock correction must stay above it.
    batch.newest = 0;
    FB_RETURN_IF_ERROR(CollectChanges(batch.after, batch.boundary, [&](PushChange&& change) {
      batch.newest = std::max(batch.newest, change.hlc);
      for (const auto& cell : change.cells) batch.newest = std::max(batch.newest, cell.hlc);
      writer.Add(std::move(change));
    }));
  }
  batch.changes = writer.count();
  batch.body = writer.Finish();
  return Status::Ok();
}

Result<SyncClient::Batch> SyncClient::PrepareBatch(const SyncOptions& options, const SyncResponse* ahead) {
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_ASSIGN_OR_RETURN(Statement number, store_.Prepare(
      "UPDATE fb_sync_state SET request_seq = request_seq + 1 WHERE id = 1 RETURNING request_seq"));
  FB_ASSIGN_OR_RETURN(bool numbered, number.Step());
  if (!numbered) return Status(ErrorCode::kNotInitialized, "sync state missing");
  Batch batch;
  batch.request = number.Int(0);
  number.Reset();
  FB_ASSIGN_OR_RETURN(SyncState state, LoadSyncState(store_));
  if (ahead) {
    // Only a pull: pending changes go in the next ordinary request.
  } else if (!state.batch_id.empty()) {
    // A batch was sent before and not acknowledged: resend it under the same id.
    batch.id = state.batch_id;
    batch.boundary = state.batch_seq;
  } else {
    // The first batch of a push is a third of the others: the server starts merging
    // sooner, and the batches read while one travels keep it busy.
    FB_ASSIGN_OR_RETURN(int64_t boundary, NextBoundary(options, 0, state.local_seq, options.push_limit / 3));
    if (boundary > 0) {
      batch.id = NewUuidV7(store_.env());
      batch.boundary = boundary;
      FB_ASSIGN_OR_RETURN(Statement save, store_.Prepare("UPDATE fb_sync_state SET batch_id = ?1, batch_seq = ?2 WHERE id = 1"));
      FB_RETURN_IF_ERROR(save.Bind(1, batch.id).Bind(2, batch.boundary).Run());
    }
  }
  FB_RETURN_IF_ERROR(EncodeBatch(state, options, ahead, batch));
  if (!batch.id.empty() && state.batch_id.empty()) {
    FB_ASSIGN_OR_RETURN(Statement save, store_.Prepare("UPDATE fb_sync_state SET batch_hlc = ?1 WHERE id = 1"));
    FB_RETURN_IF_ERROR(save.Bind(1, batch.newest).Run());
  }
  FB_RETURN_IF_ERROR(txn.Commit());
  return batch;
}

Result<std::optional<SyncClient::Batch>> SyncClient::SpeculateBatch(const SyncOptions& options, const Batch& in_flight) {
  // Read only: the batch becomes this device's batch (and its request number taken) only
  // when it is adopted, in the transaction that acknowledges the one in flight.
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin(TxnMode::kDeferred));
  FB_ASSIGN_OR_RETURN(SyncState state, LoadSyncState(store_));
  if (state.batch_id != in_flight.id) return std::optional<Batch>();
  FB_ASSIGN_OR_RETURN(int64_t boundary, NextBoundary(options, in_flight.boundary, state.local_seq, options.push_limit));
  if (boundary == 0) return std::optional<Batch>();
  FB_ASSIGN_OR_RETURN(Statement number, store_.Prepare("SELECT request_seq FROM fb_sync_state WHERE id = 1"));
  FB_ASSIGN_OR_RETURN(bool numbered, number.Step());
  if (!numbered) return Status(ErrorCode::kNotInitialized, "sync state missing");
  Batch batch;
  batch.request = number.Int(0) + 1;
  number.Reset();
  batch.id = NewUuidV7(store_.env());
  batch.after = in_flight.boundary;
  batch.boundary = boundary;
  FB_RETURN_IF_ERROR(EncodeBatch(state, options, nullptr, batch));
  FB_RETURN_IF_ERROR(txn.Commit());
  return std::optional<Batch>(std::move(batch));
}

Status SyncClient::CorrectClock(int64_t server_time) {
  // Our stamps ran ahead of the server's clock: learn the offset, then give every
  // unpushed change a fresh stamp from the corrected clock (still after anything we have
  // received, so causality holds).
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_ASSIGN_OR_RETURN(Statement wall, store_.Prepare(
      "SELECT coalesce(fixed_now, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)) FROM fb_sync_state"));
  FB_ASSIGN_OR_RETURN(bool row, wall.Step());
  if (!row) return Status(ErrorCode::kNotInitialized, "sync state missing");
  const int64_t skew = server_time - wall.Int(0);
  wall.Reset();
  // New stamps must follow every version the server already holds, ours included, or a
  // later edit could order before an earlier one.
  FB_ASSIGN_OR_RETURN(Statement seen, store_.Prepare(
      "SELECT max(received_hlc, accepted_hlc) FROM fb_sync_state WHERE id = 1"));
  FB_ASSIGN_OR_RETURN(bool has, seen.Step());
  const Hlc floor = has ? seen.Int(0) : 0;
  seen.Reset();
  Hlc clock = std::max(floor, MakeHlc(server_time));
  FB_ASSIGN_OR_RETURN(Statement items, store_.Prepare(
      "SELECT 0, tbl, row_id, '', local_seq FROM fb_rows WHERE pending = 1 "
      "UNION ALL SELECT 1, tbl, row_id, col, local_seq FROM fb_cells WHERE pending = 1 ORDER BY 5"));
  FB_ASSIGN_OR_RETURN(Statement fix_row, store_.Prepare("UPDATE fb_rows SET hlc = ?3 WHERE tbl = ?1 AND row_id = ?2"));
  FB_ASSIGN_OR_RETURN(Statement fix_cell, store_.Prepare(
      "UPDATE fb_cells SET hlc = ?4 WHERE tbl = ?1 AND row_id = ?2 AND col = ?3"));
  std::vector<std::tuple<int64_t, std::string, std::string, std::string>> todo;
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool more, items.Step());
    if (!more) break;
    todo.emplace_back(items.Int(0), items.String(1), items.String(2), items.String(3));
  }
  for (const auto& [kind, tbl, id, col] : todo) {
    ++clock;
    if (kind == 0) {
      FB_RETURN_IF_ERROR(fix_row.Bind(1, tbl).Bind(2, id).Bind(3, clock).Run());
      fix_row.Reset();
    } else {
      FB_RETURN_IF_ERROR(fix_cell.Bind(1, tbl).Bind(2, id).Bind(3, col).Bind(4, clock).Run());
      fix_cell.Reset();
    }
  }
  FB_ASSIGN_OR_RETURN(Statement save, store_.Prepare(
      "UPDATE fb_sync_state SET skew_ms = ?1, hlc = ?2, batch_id = '', batch_seq = 0, batch_hlc = 0 WHERE id = 1"));
  FB_RETURN_IF_ERROR(save.Bind(1, skew).Bind(2, clock).Run());
  return txn.Commit();
}

Status SyncClient::ApplyResponse(const SyncResponse& response, const Batch& batch, SyncReport& report, bool* taken,
                                 const Batch* next, bool* adopted) {
  if (adopted) *adopted = false;
  if (taken) *taken = false;
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_ASSIGN_OR_RETURN(SyncState state, LoadSyncState(store_));
  if (!state.batch_id.empty() && response.acked_batch == state.batch_id) {
    FB_ASSIGN_OR_RETURN(Statement rows, store_.Prepare("UPDATE fb_rows SET pending = 0 WHERE pending = 1 AND local_seq <= ?1"));
    FB_RETURN_IF_ERROR(rows.Bind(1, state.batch_seq).Run());
    FB_ASSIGN_OR_RETURN(Statement cells, store_.Prepare(
        "UPDATE fb_cells SET pending = 0, base_value = NULL WHERE pending = 1 AND local_seq <= ?1"));
    FB_RETURN_IF_ERROR(cells.Bind(1, state.batch_seq).Run());
    FB_RETURN_IF_ERROR(store_.Exec(
        "UPDATE fb_sync_state SET accepted_hlc = max(accepted_hlc, batch_hlc), batch_id = '', batch_seq = 0, "
        "batch_hlc = 0 WHERE id = 1"));
    if (batch.id == state.batch_id) report.pushed += batch.changes;
    report.conflicts += response.conflicts;
    if (next && adopted) {
      // The batch encoded while this one travelled becomes the device's batch, unless a
      // request was numbered meanwhile. Edits made in between go in a later batch.
      FB_ASSIGN_OR_RETURN(Statement adopt, store_.Prepare(
          "UPDATE fb_sync_state SET request_seq = ?1, batch_id = ?2, batch_seq = ?3, batch_hlc = ?4 "
          "WHERE id = 1 AND request_seq = ?1 - 1 AND batch_id = ''"));
      FB_RETURN_IF_ERROR(adopt.Bind(1, next->request).Bind(2, next->id).Bind(3, next->boundary).Bind(4, next->newest).Run());
      *adopted = store_.changes() == 1;
    }
  }
  int64_t cursor = state.cursor;
  const bool restart = response.reset || (!state.epoch.empty() && state.epoch != response.epoch);
  if (restart) cursor = 0;
  if (response.cursor_from == cursor && response.cursor >= response.cursor_from) {
    int64_t applied = 0, evicted = 0;
    FB_RETURN_IF_ERROR(ApplyPage(store_, response.rows, response.evict, &applied, &evicted));
    report.pulled += applied;
    report.evicted += evicted;
    // A pull is a consistent view of the server only once its last page is in: a row
    // written again while the pages came moved past the pages already read, so a cursor
    // in the middle of a pull does not prove that every version up to it is here. Local
    // edits therefore claim to have seen only the last complete pull (seen_cursor), and a
    // concurrent write this device has not received becomes a conflict, not a silent loss.
    FB_ASSIGN_OR_RETURN(Statement save, store_.Prepare(
        "UPDATE fb_sync_state SET cursor = ?1, epoch = ?2, "
        "seen_cursor = CASE WHEN ?3 THEN ?1 WHEN ?4 THEN 0 ELSE seen_cursor END WHERE id = 1"));
    FB_RETURN_IF_ERROR(save.Bind(1, response.cursor).Bind(2, response.epoch).Bind(3, int64_t{response.more ? 0 : 1})
                           .Bind(4, int64_t{restart ? 1 : 0}).Run());
    report.cursor = response.cursor;
    FB_RETURN_IF_ERROR(txn.Commit());
    if (taken) *taken = true;
    return Status::Ok();
  }
  return txn.Commit();
}

Result<SyncReport> SyncClient::Sync(const SyncOptions& options) {
  SyncSettings settings(store_);
  SyncReport report;
  {
    BlobTransferOptions blob_options;
    blob_options.token = options.token;
    FB_ASSIGN_OR_RETURN(BlobUploadReport blobs, UploadPendingBlobs(store_, transport_, blob_options));
    report.blobs_uploaded = blobs.uploaded;
    report.blobs_refused = blobs.refused;
    report.bytes_sent += blobs.bytes_sent;
  }
  bool clock_corrected = false;
  std::optional<HeldPage> held;  // received, to be applied while the next page travels
  std::optional<Batch> next;     // adopted: the next request, already encoded
  for (;;) {
    if (options.cancel && options.cancel->load()) {
      return Status(ErrorCode::kCancelled, "sync cancelled; nothing lost, it resumes next time");
    }
    if (report.round_trips >= options.max_round_trips) {
      return Status(ErrorCode::kServerError, "sync did not finish within " + std::to_string(options.max_round_trips) +
                                                 " round trips");
    }
    Batch batch;
    if (next) {
      batch = std::move(*next);
      next.reset();
    } else {
      FB_ASSIGN_OR_RETURN(batch, PrepareBatch(options, held ? &held->response : nullptr));
    }
    HttpRequest http = batch.wire ? std::move(*batch.wire) : WireRequest(std::move(batch.body), options);
    batch.wire.reset();
    report.bytes_sent += static_cast<int64_t>(http.body.size());
    ++report.round_trips;
    std::unique_ptr<PendingExchange> exchange = transport_.Start(std::move(http));
    // While a batch travels, the one after it is read and compressed (the server merges
    // this one meanwhile). It goes out once this one is acknowledged; see ApplyResponse.
    std::optional<Batch> speculated;
    if (!batch.id.empty() && !held) {
      FB_ASSIGN_OR_RETURN(speculated, SpeculateBatch(options, batch));
      if (speculated) speculated->wire = WireRequest(std::move(speculated->body), options);
    }
    if (held) {
      // Written while the next page is prepared and carried. Should this fail, the
      // exchange is abandoned: its page is never applied, the cursor stays where it was.
      bool taken = false;
      FB_RETURN_IF_ERROR(ApplyResponse(held->response, held->batch, report, &taken));
      held.reset();
      if (options.progress) options.progress(SyncProgress{report.pushed, report.pulled, report.round_trips, true});
      // Not applied after all (this device's cursor had moved): the page asked for after
      // it continues nothing. Drop it and ask again from where the device is.
      if (!taken) continue;
    }
    auto sent = exchange->Wait();
    exchange.reset();
    if (!sent.ok()) {
      FB_ASSIGN_OR_RETURN(int64_t waiting, PendingRowCount(store_));
      return Status(sent.status().code() == ErrorCode::kTimeout ? ErrorCode::kTimeout : ErrorCode::kUnreachable,
                    "server unreachable: " + sent.status().message() + "; nothing lost, " + std::to_string(waiting) +
                        " changed rows wait for the next sync");
    }
    report.bytes_received += static_cast<int64_t>(sent->body.size());
    if (sent->status != 200) {
      Status refused = StatusFromHttp(*sent, "the sync");
      if (refused.code() == ErrorCode::kClockSkew && !clock_corrected) {
        const auto err = DecodeError(sent->body);
        if (err && err->server_time > 0) {
          FB_RETURN_IF_ERROR(CorrectClock(err->server_time));
          clock_corrected = true;
          continue;
        }
      }
      return refused;
    }
    std::string payload = std::move(sent->body);
    if (LooksGzipped(payload)) {
      FB_ASSIGN_OR_RETURN(payload, Gunzip(payload, kMaxResponseBytes));
    }
    FB_ASSIGN_OR_RETURN(SyncResponse response, DecodeResponse(std::move(payload)));
    // A response to an earlier request (a retry's late twin, a replay) describes an older
    // state of the server: applying it could roll rows back. It is ignored and the
    // round trip repeated.
    if (response.request != batch.request) continue;
    // More pages follow a page that continues our cursor and acknowledges nothing: the
    // next one is asked for before this one is written.
    if (response.more && batch.id.empty() && !response.reset && response.cursor_from == batch.cursor &&
        response.cursor > response.cursor_from && response.acked_batch.empty()) {
      held = HeldPage{std::move(response), std::move(batch)};
      continue;
    }
    bool taken = false, adopted = false;
    FB_RETURN_IF_ERROR(ApplyResponse(response, batch, report, &taken, speculated ? &*speculated : nullptr, &adopted));
    if (adopted) next = std::move(speculated);
    if (options.progress) {
      options.progress(SyncProgress{report.pushed, report.pulled, report.round_trips, response.more});
    }
    // A page asked for ahead that does not continue the cursor (the server's state moved
    // on in between): ask again from where this device is.
    if (batch.ahead && !taken) continue;
    FB_ASSIGN_OR_RETURN(SyncState after, LoadSyncState(store_));
    const bool acked = batch.id.empty() || after.batch_id.empty();
    FB_ASSIGN_OR_RETURN(bool waiting, AnyPending(store_));
    // Otherwise: more pages, our batch not acknowledged yet (a stale response), more local
    // changes than one batch holds, or a page not taken (a batch read ahead asked from
    // the cursor before the page ahead of it was applied): pull once more.
    if (!response.more && acked && !waiting && !next && taken) break;
  }
  FB_ASSIGN_OR_RETURN(SyncState final_state, LoadSyncState(store_));
  report.cursor = final_state.cursor;
  return report;
}

}  // namespace fieldbook::sync
