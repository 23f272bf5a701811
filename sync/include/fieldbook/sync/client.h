// SyncClient: reconciles one device's store with the sync server.
//
// The client does not own its network: requests go through a Transport the app supplies
// (OkHttp, URLSession, cpprestsdk in the CLI, an in-process fake in tests). The same
// interface is where tests inject lost, duplicated and reordered messages.
//
// One Sync() call first uploads pending blobs (blobs.h), so no row reaches the server
// before the attachments it names, then runs round trips until nothing is left to push
// or pull:
//   PrepareBatch   pending local changes up to a boundary get a batch id, persisted
//                  before sending, so a retry after a lost response resends the same id
//                  and the server applies it at most once;
//   Send           request = batch + cursor; response = ack + one page of remote rows;
//   Apply          in one transaction: the acknowledged items stop being pending, the
//                  page is applied (only if it starts at our cursor: stale or duplicated
//                  responses are ignored), the cursor advances.
// When more is pending than one batch holds, the batch after the one in flight is read
// and compressed while it travels (SpeculateBatch) and adopted, its id persisted, in the
// transaction that takes the acknowledgement; the server merges one batch while the
// device prepares the next. A batch not adopted (the answer lost or refused) is dropped.
// A crash at any point leaves either the state before or after a whole round trip.
// While more pages follow and the last request pushed nothing, the request for the next
// page goes out before the page in hand is applied (Transport::Start): the server
// prepares it, and the network carries it, while this device writes. Such a request only
// pulls (a push waits for the next ordinary round trip, so the server never marks a row
// as held by a device that has not applied it yet), and its page is taken only if it
// continues the cursor the page before it left.
// Local cells with unpushed edits are never overwritten by pulled values: the edit is
// pushed first and the server decides, so nothing typed is lost.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"
#include "fieldbook/sync/protocol.h"

namespace fieldbook::sync {

struct SyncState;

struct HttpRequest {
  std::string method = "POST";
  std::string path;  // "/v1/sync"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One exchange under way (Transport::Start). Wait gives its outcome, once; an exchange
// destroyed without Wait is abandoned (its answer, if one comes, is dropped).
class PendingExchange {
 public:
  virtual ~PendingExchange() = default;
  virtual Result<HttpResponse> Wait() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Performs one HTTP exchange. A failure to reach the server (no connection, timeout) is
  // an error Status with code kUnreachable or kTimeout; any HTTP status is a response.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
  // Starts an exchange to be collected with Wait, so the caller can work meanwhile (the
  // sync client applies the page it has while the next one is fetched). By default the
  // exchange happens inside Wait, through Send, on the calling thread; a transport that
  // can carry a request in the background overrides this. Wait's outcome is Send's.
  virtual std::unique_ptr<PendingExchange> Start(HttpRequest request);
};

struct SyncProgress {
  int64_t pushed = 0;
  int64_t pulled = 0;
  int64_t round_trips = 0;
  bool more = false;
};

struct SyncOptions {
  std::string token;            // bearer token
  int page_limit = 2500;        // rows per pulled page
  int push_limit = 2500;        // changed items per pushed batch (the first of a sync: a third)
  int max_round_trips = 100000;
  std::function<void(const SyncProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;  // checked between round trips
};

struct SyncReport {
  int64_t pushed = 0;      // rows sent and acknowledged
  int64_t pulled = 0;      // rows received and applied
  int64_t conflicts = 0;   // conflicts the server recorded for our pushes
  int64_t evicted = 0;     // customers moved to another agent and removed here
  int64_t round_trips = 0;
  int64_t cursor = 0;
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
  int64_t blobs_uploaded = 0;  // pending blobs now complete on the server
  int64_t blobs_refused = 0;   // blobs the server will not take (too large, damaged)
};

class SyncClient {
 public:
  SyncClient(Store& store, Transport& transport) : store_(store), transport_(transport) {}

  Result<SyncReport> Sync(const SyncOptions& options);

 private:
  struct Batch {
    int64_t request = 0;  // number of the request that carries it
    std::string id;
    int64_t boundary = 0;
    int64_t changes = 0;  // rows the batch carries
    std::string body;     // the encoded request (JSON)
    int64_t cursor = 0;   // the cursor the request asks to continue from
    bool ahead = false;   // asked before the page before it was applied (see Sync)
    int64_t after = 0;    // items with local_seq <= after went in an earlier batch
    Hlc newest = 0;       // the newest stamp the batch carries
    std::optional<HttpRequest> wire;  // a speculated batch: the body already compressed
  };
  // A page received and not applied yet: the request for the next one is sent first.
  struct HeldPage {
    SyncResponse response;
    Batch batch;
  };
  // Numbers the next request and encodes it with the batch to (re)send, if any. With
  // `ahead`, the request only pulls, continuing after that page (not yet applied).
  Result<Batch> PrepareBatch(const SyncOptions& options, const SyncResponse* ahead = nullptr);
  // The batch that follows `in_flight`, encoded while it travels but not yet this
  // device's batch (see Sync); nullopt when nothing more is pending.
  Result<std::optional<Batch>> SpeculateBatch(const SyncOptions& options, const Batch& in_flight);
  // The last local_seq of the batch of pending items after `after` (at most `limit` of
  // them, whole writes, a deleted customer's tombstones together); 0 when none is pending.
  Result<int64_t> NextBoundary(const SyncOptions& options, int64_t after, int64_t local_seq, int limit);
  // Encodes the request carrying `batch` (its changes when it has an id).
  Status EncodeBatch(const SyncState& state, const SyncOptions& options, const SyncResponse* ahead, Batch& batch);
  // Hands each pending change in (after, boundary] to `sink` in local write order
  // (parents before their children), one at a time.
  Status CollectChanges(int64_t after, int64_t boundary, const std::function<void(PushChange&&)>& sink);
  // Sets *taken (when given) to whether the response's page was applied (its range
  // continues this device's cursor).
  // When the response acknowledges `batch`, `next` (its speculated successor, if any) is
  // adopted in the same transaction; *adopted says whether it was.
  Status ApplyResponse(const SyncResponse& response, const Batch& batch, SyncReport& report, bool* taken = nullptr,
                       const Batch* next = nullptr, bool* adopted = nullptr);
  Status CorrectClock(int64_t server_time);

  Store& store_;
  Transport& transport_;
};

// Applies one page of rows and evictions inside the caller's transaction (exposed for
// tests). Rows whose parent has not arrived yet wait in fb_stash.
Status ApplyPage(Store& store, const std::vector<WireRow>& rows, const std::vector<std::string>& evict,
                 int64_t* applied, int64_t* evicted);

}  // namespace fieldbook::sync
