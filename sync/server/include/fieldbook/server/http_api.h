// Api: every HTTP route of fieldbook-server as a function from request to reply, with no
// socket in sight. The Beast server marshals to and from it; tests and the simulation
// call it directly, so they exercise exactly what the network sees (auth, gzip, limits,
// error bodies).
//
// Thread-safe: each call borrows a storage session from a pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fieldbook/core/env.h"
#include "fieldbook/server/server_store.h"
#include "fieldbook/server/sync_service.h"

namespace fieldbook::server {

struct ApiRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ApiConfig {
  std::string secret;                       // HMAC key for tokens
  size_t max_body_bytes = 64u << 20;        // after decompression
  int64_t max_blob_bytes = 25 << 20;        // largest blob accepted (docs/blobs.md)
  int64_t blob_grace_ms = 24 * 3600 * 1000; // unreferenced or idle blobs live this long
  ServiceConfig service;
};

// Counters for /metrics (Prometheus text format).
struct ApiMetrics {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> sync_requests{0};
  std::atomic<int64_t> changes_applied{0};
  std::atomic<int64_t> conflicts{0};
  std::atomic<int64_t> rows_pulled{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> blob_bytes_received{0};
  std::atomic<int64_t> blob_bytes_sent{0};
  std::atomic<int64_t> blobs_collected{0};
  std::mutex mu;
  std::map<std::string, int64_t> rejected_by_code;        // guarded by mu
  std::map<std::string, int64_t> requests_by_route;       // guarded by mu
  std::vector<int64_t> latency_buckets_us;                // guarded by mu; counts per bucket
  std::vector<int64_t> batch_size_buckets;                // guarded by mu
  double latency_sum_s = 0;                               // guarded by mu
  int64_t latency_count = 0;                              // guarded by mu
  // tenant/site -> last sync; entries older than kConnectedWindowMs are pruned at most a
  // minute after they expire, so the map holds only recently active devices.
  std::map<std::string, int64_t> devices_seen_ms;         // guarded by mu
  int64_t devices_pruned_ms = 0;                          // guarded by mu

  static constexpr int64_t kConnectedWindowMs = 15 * 60 * 1000;
  // Records a sync by a device and drops devices not seen within the window.
  void SawDevice(const std::string& key, int64_t now_ms);
};

// One route of the API: method and path, "{name}" standing for one path segment.
struct ApiRoute {
  const char* method;
  const char* path;
};

class Api {
 public:
  Api(ServerBackend& backend, Env& env, ApiConfig config);
  ~Api();

  ApiReply Handle(const ApiRequest& request);
  // Every route Handle serves (HEAD is also answered wherever GET is). docs/openapi.yaml
  // describes exactly these; a test keeps the two in step.
  static const std::vector<ApiRoute>& Routes();
  SyncService& service() { return service_; }
  ApiMetrics& metrics() { return metrics_; }
  // What one garbage collection of blobs removed.
  struct BlobGcReport {
    int64_t complete = 0;  // complete blobs no row referred to
    int64_t partial = 0;   // idle partial uploads
    int64_t bytes = 0;
  };
  // Deletes blobs past the grace period (docs/blobs.md) in `tenant`, or in every tenant
  // when empty. The server runs it periodically; admins through POST /v1/admin/blobs/gc.
  Result<BlobGcReport> CollectBlobs(const std::string& tenant);
  int64_t blob_grace_ms() const { return config_.blob_grace_ms; }
  // Stops accepting new syncs (readiness goes false) while in-flight ones finish.
  void BeginShutdown() { shutting_down_ = true; }

 private:
  class SessionLease;
  Result<std::unique_ptr<ServerSession>> Acquire();
  void Release(std::unique_ptr<ServerSession> session);
  Result<Principal> Authenticate(const ApiRequest& request, ServerSession& session);
  ApiReply Sync(const ApiRequest& request);
  ApiReply Admin(const ApiRequest& request, const std::string& path);
  ApiReply Blob(const ApiRequest& request, const std::string& sha256);  // blob_api.cc
  ApiReply PutBlob(const ApiRequest& request, ServerSession& session, const Principal& who, const std::string& sha256);
  ApiReply GetBlob(const ApiRequest& request, ServerSession& session, const Principal& who, const std::string& sha256);
  ApiReply Metrics();
  // `offset`: the bytes of a blob the server holds, for offset_mismatch (protocol.h).
  ApiReply Error(const Status& status, std::optional<int64_t> offset = std::nullopt);
  void Observe(const std::string& route, int status, int64_t micros);

  ServerBackend& backend_;
  Env& env_;
  const ApiConfig config_;
  SyncService service_;
  ApiMetrics metrics_;
  std::atomic<bool> shutting_down_{false};
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<ServerSession>> pool_;  // guarded by pool_mu_
};

}  // namespace fieldbook::server
