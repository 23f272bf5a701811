#include "fieldbook/server/http_api.h"

#include <chrono>
#include <sstream>

#include "fieldbook/core/json.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/sync/protocol.h"
#include "api_internal.h"

namespace fieldbook::server {
namespace {

const std::vector<int64_t> kLatencyBoundsUs = {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};
const std::vector<int64_t> kBatchBounds = {0, 1, 10, 100, 1000, 10000};
constexpr size_t kGzipReplyThreshold = 1024;

std::string PathOf(const std::string& target) {
  const size_t q = target.find('?');
  return q == std::string::npos ? target : target.substr(0, q);
}

std::string Header(const ApiRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

ApiReply Json(int status, std::string body) {
  ApiReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

// Whether `path` matches a route pattern, "{x}" matching one non-empty segment.
bool PathMatches(std::string_view pattern, std::string_view path) {
  while (!pattern.empty() && !path.empty()) {
    const size_t ps = pattern.find('/', 1), qs = path.find('/', 1);
    const std::string_view pseg = pattern.substr(0, ps), qseg = path.substr(0, qs);
    const bool any = pseg.size() > 3 && pseg[1] == '{' && pseg.back() == '}';
    if (any ? qseg.size() < 2 : pseg != qseg) return false;
    pattern = ps == std::string_view::npos ? std::string_view() : pattern.substr(ps);
    path = qs == std::string_view::npos ? std::string_view() : path.substr(qs);
  }
  return pattern.empty() && path.empty();
}

}  // namespace

const std::vector<ApiRoute>& Api::Routes() {
  static const std::vector<ApiRoute> routes = {
      {"POST", "/v1/sync"},
      {"GET", "/healthz"},
      {"GET", "/readyz"},
      {"GET", "/metrics"},
      {"GET", "/v1/admin/devices"},
      {"POST", "/v1/admin/devices/{site}/revoke"},
      {"POST", "/v1/admin/devices/{site}/restore"},
      {"POST", "/v1/admin/devices/{site}/resync"},
      {"POST", "/v1/admin/reassign"},
      {"POST", "/v1/admin/tokens/revoke"},
      {"POST", "/v1/admin/blobs/gc"},
      {"GET", "/v1/blobs/{sha256}"},
      {"PUT", "/v1/blobs/{sha256}"},
  };
  return routes;
}

void ApiMetrics::SawDevice(const std::string& key, int64_t now_ms) {
  devices_seen_ms[key] = now_ms;
  if (now_ms - devices_pruned_ms < 60 * 1000) return;
  devices_pruned_ms = now_ms;
  for (auto it = devices_seen_ms.begin(); it != devices_seen_ms.end();) {
    it = now_ms - it->second >= kConnectedWindowMs ? devices_seen_ms.erase(it) : std::next(it);
  }
}

Api::Api(ServerBackend& backend, Env& env, ApiConfig config)
    : backend_(backend), env_(env), config_(std::move(config)), service_(backend, env, config_.service) {
  metrics_.latency_buckets_us.assign(kLatencyBoundsUs.size() + 1, 0);
  metrics_.batch_size_buckets.assign(kBatchBounds.size() + 1, 0);
}

Api::~Api() = default;

Result<std::unique_ptr<ServerSession>> Api::Acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      auto s = std::move(pool_.back());
      pool_.pop_back();
      return s;
    }
  }
  return backend_.OpenSession();
}

void Api::Release(std::unique_ptr<ServerSession> session) {
  session->Rollback();
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.size() < 64) pool_.push_back(std::move(session));
}

ApiReply Api::Error(const Status& status, std::optional<int64_t> offset) {
  {
    std::lock_guard<std::mutex> lock(metrics_.mu);
    ++metrics_.rejected_by_code[std::string(ErrorCodeName(status.code()))];
  }
  return Json(HttpStatusFor(status), sync::EncodeError(status, env_.NowMs(), offset));
}

Result<Principal> Api::Authenticate(const ApiRequest& request, ServerSession& session) {
  const std::string auth = Header(request, "authorization");
  if (auth.empty()) return Status(ErrorCode::kUnauthorized, "missing Authorization: Bearer token");
  if (auth.rfind("Bearer ", 0) != 0) return Status(ErrorCode::kUnauthorized, "Authorization must be a Bearer token");
  FB_ASSIGN_OR_RETURN(TokenClaims claims, VerifyToken(auth.substr(7), config_.secret, env_.NowMs()));
  FB_ASSIGN_OR_RETURN(bool revoked, session.TokenRevoked(claims.id));
  if (revoked) return Status(ErrorCode::kRevoked, "token was revoked");
  return Principal{claims.tenant, claims.agent, claims.team, claims.role, claims.id};
}

void Api::Observe(const std::string& route, int status, int64_t micros) {
  std::lock_guard<std::mutex> lock(metrics_.mu);
  ++metrics_.requests_by_route[route + " " + std::to_string(status)];
  size_t b = 0;
  while (b < kLatencyBoundsUs.size() && micros > kLatencyBoundsUs[b]) ++b;
  ++metrics_.latency_buckets_us[b];
  metrics_.latency_sum_s += static_cast<double>(micros) / 1e6;
  ++metrics_.latency_count;
}

ApiReply Api::Handle(const ApiRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path = PathOf(request.target);
  // Scrapes are not counted as requests in flight: the gauge shows the work being scraped.
  const bool counted = path != "/metrics";
  ++metrics_.requests;
  if (counted) ++metrics_.in_flight;
  std::string allow;
  const char* route_pattern = nullptr;
  bool method_ok = false;
  for (const ApiRoute& r : Routes()) {
    if (!PathMatches(r.path, path)) continue;
    route_pattern = r.path;
    const bool same = request.method == r.method || (request.method == "HEAD" && std::string_view(r.method) == "GET");
    method_ok |= same;
    allow += (allow.empty() ? "" : ", ") + std::string(r.method) + (std::string_view(r.method) == "GET" ? ", HEAD" : "");
  }
  ApiReply reply;
  std::string route = route_pattern ? route_pattern : "other";
  if (!route_pattern) {
    reply = Json(404, sync::EncodeError(Status(ErrorCode::kNotFound, "no route " + path), env_.NowMs()));
  } else if (!method_ok) {
    reply = Error(Status(ErrorCode::kMalformedRequest, request.method + " is not allowed on " + route + "; use " + allow));
    reply.status = 405;
    reply.headers.emplace_back("Allow", allow);
  } else if (path == "/v1/sync") {
    reply = Sync(request);
  } else if (path == "/healthz") {
    reply = Json(200, R"({"status":"ok"})");
  } else if (path == "/readyz") {
    Status ready = shutting_down_ ? Status(ErrorCode::kBusy, "shutting down") : Status::Ok();
    if (ready.ok()) {
      auto session = Acquire();
      ready = session.ok() ? (*session)->Ping() : session.status();
      if (session.ok()) Release(std::move(session).value());
    }
    reply = ready.ok() ? Json(200, R"({"status":"ready"})") : Json(503, sync::EncodeError(ready, env_.NowMs()));
  } else if (path == "/metrics") {
    reply = Metrics();
  } else if (path.rfind("/v1/blobs/", 0) == 0) {
    reply = Blob(request, path.substr(10));
  } else {
    reply = Admin(request, path);
  }
  if (counted) --metrics_.in_flight;
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  Observe(route, reply.status, micros);
  return reply;
}

ApiReply Api::Sync(const ApiRequest& request) {
  ++metrics_.sync_requests;
  if (shutting_down_) return Error(Status(ErrorCode::kBusy, "server is shutting down; retry shortly"));
  std::string body;
  const std::string encoding = Header(request, "content-encoding");
  if (encoding == "gzip") {
    auto inflated = sync::Gunzip(request.body, config_.max_body_bytes);
    if (!inflated.ok()) return Error(inflated.status());
    body = std::move(inflated).value();
  } else if (!encoding.empty() && encoding != "identity") {
    return Error(Status(ErrorCode::kMalformedRequest, "unsupported Content-Encoding " + encoding));
  } else {
    if (request.body.size() > config_.max_body_bytes) {
      return Error(Status(ErrorCode::kPayloadTooLarge, "body exceeds " + std::to_string(config_.max_body_bytes) + " bytes"));
    }
    body = request.body;
  }
  auto leased = Acquire();
  if (!leased.ok()) return Error(leased.status());
  SessionLease session(*this, std::move(leased).value());
  auto who = Authenticate(request, *session);
  if (!who.ok()) return Error(who.status());
  ServiceResult result = service_.HandleSync(*session, *who, std::move(body));
  if (!result.status.ok()) return Error(result.status);
  metrics_.changes_applied += result.applied;
  metrics_.conflicts += result.conflicts;
  metrics_.rows_pulled += result.pulled;
  {
    std::lock_guard<std::mutex> lock(metrics_.mu);
    size_t b = 0;
    while (b < kBatchBounds.size() && static_cast<int64_t>(result.changes) > kBatchBounds[b]) ++b;
    ++metrics_.batch_size_buckets[b];
    metrics_.SawDevice(who->tenant + "/" + result.site, env_.NowMs());
  }
  ApiReply reply = Json(200, std::move(result.body));
  if (Header(request, "accept-encoding").find("gzip") != std::string::npos && reply.body.size() > kGzipReplyThreshold) {
    reply.body = sync::Gzip(reply.body, sync::GzipLevelFor(reply.body.size()));
    reply.headers.emplace_back("Content-Encoding", "gzip");
  }
  return reply;
}

ApiReply Api::Admin(const ApiRequest& request, const std::string& path) {
  auto leased = Acquire();
  if (!leased.ok()) return Error(leased.status());
  SessionLease session(*this, std::move(leased).value());
  auto who = Authenticate(request, *session);
  if (!who.ok()) return Error(who.status());
  if (who->role != Role::kAdmin) return Error(Status(ErrorCode::kForbidden, "the admin API needs an admin token"));
  const std::string tenant = who->tenant;
  auto body_object = [&]() { return ParseJsonObject(request.body, "request body"); };
  auto str = [](const rapidjson::Document& d, const char* key) {
    return d.HasMember(key) && d[key].IsString() ? std::string(d[key].GetString()) : std::string();
  };
  if (path == "/v1/admin/devices" && request.method == "GET") {
    auto devices = session->ListDevices(tenant);
    if (!devices.ok()) return Error(devices.status());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("devices");
    w.StartArray();
    for (const auto& d : *devices) {
      w.StartObject();
      w.Key("site");
      w.String(d.site.c_str());
      w.Key("agent");
      w.String(d.agent.c_str());
      w.Key("team");
      w.String(d.team.c_str());
      w.Key("last_sync_ms");
      w.Int64(d.last_sync_ms);
      w.Key("cursor");
      w.Int64(d.cursor);
      w.Key("revoked");
      w.Bool(d.revoked);
      w.Key("resync_requested");
      w.Bool(d.resync_requested);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return Json(200, std::string(buf.GetString(), buf.GetSize()));
  }
  if (request.method != "POST") return Error(Status(ErrorCode::kNotFound, "no admin route " + request.method + " " + path));
  if (path == "/v1/admin/reassign") {
    auto doc = body_object();
    if (!doc.ok()) return Error(Status(ErrorCode::kMalformedRequest, doc.status().message()));
    const std::string table = str(*doc, "table").empty() ? "customers" : str(*doc, "table");
    Status s = service_.Reassign(*session, tenant, table, str(*doc, "id"), str(*doc, "owner"), str(*doc, "team"));
    if (!s.ok()) return Error(s);
    return Json(200, R"({"status":"reassigned"})");
  }
  if (path == "/v1/admin/tokens/revoke") {
    auto doc = body_object();
    if (!doc.ok()) return Error(Status(ErrorCode::kMalformedRequest, doc.status().message()));
    const std::string id = str(*doc, "token_id");
    if (id.empty()) return Error(Status(ErrorCode::kMissingField, "token_id is required", "token_id"));
    Status s = session->RevokeToken(id, env_.NowMs());
    if (!s.ok()) return Error(s);
    return Json(200, R"({"status":"revoked"})");
  }
  if (path == "/v1/admin/blobs/gc") {
    auto gc = CollectBlobs(tenant);
    if (!gc.ok()) return Error(gc.status());
    return Json(200, "{\"deleted_complete\":" + std::to_string(gc->complete) + ",\"deleted_partial\":" +
                         std::to_string(gc->partial) + ",\"bytes_freed\":" + std::to_string(gc->bytes) + "}");
  }
  const std::string prefix = "/v1/admin/devices/";
  if (path.rfind(prefix, 0) == 0) {
    const std::string rest = path.substr(prefix.size());
    const size_t slash = rest.find('/');
    if (slash != std::string::npos) {
      const std::string site = rest.substr(0, slash), verb = rest.substr(slash + 1);
      std::optional<bool> revoked, resync;
      if (verb == "revoke") revoked = true;
      else if (verb == "restore") revoked = false;
      else if (verb == "resync") resync = true;
      if (revoked || resync) {
        Status s = session->BeginWrite(tenant);
        if (s.ok()) s = session->SetDeviceFlags(tenant, site, revoked, resync);
        if (s.ok()) s = session->Commit();
        if (!s.ok()) return Error(s);
        return Json(200, R"({"status":"ok"})");
      }
    }
  }
  return Error(Status(ErrorCode::kNotFound, "no admin route " + path));
}

ApiReply Api::Metrics() {
  std::ostringstream out;
  out << "# TYPE fieldbook_requests_total counter\nfieldbook_requests_total " << metrics_.requests << "\n";
  out << "# TYPE fieldbook_sync_requests_total counter\nfieldbook_sync_requests_total " << metrics_.sync_requests << "\n";
  out << "# TYPE fieldbook_changes_applied_total counter\nfieldbook_changes_applied_total " << metrics_.changes_applied << "\n";
  out << "# TYPE fieldbook_conflicts_total counter\nfieldbook_conflicts_total " << metrics_.conflicts << "\n";
  out << "# TYPE fieldbook_rows_pulled_total counter\nfieldbook_rows_pulled_total " << metrics_.rows_pulled << "\n";
  out << "# TYPE fieldbook_requests_in_flight gauge\nfieldbook_requests_in_flight " << metrics_.in_flight << "\n";
  out << "# TYPE fieldbook_blob_bytes_received_total counter\nfieldbook_blob_bytes_received_total "
      << metrics_.blob_bytes_received << "\n";
  out << "# TYPE fieldbook_blob_bytes_sent_total counter\nfieldbook_blob_bytes_sent_total " << metrics_.blob_bytes_sent
      << "\n";
  out << "# TYPE fieldbook_blobs_collected_total counter\nfieldbook_blobs_collected_total " << metrics_.blobs_collected
      << "\n";
  std::lock_guard<std::mutex> lock(metrics_.mu);
  out << "# TYPE fieldbook_rejected_batches_total counter\n";
  for (const auto& [code, n] : metrics_.rejected_by_code) {
    out << "fieldbook_rejected_batches_total{code=\"" << code << "\"} " << n << "\n";
  }
  out << "# TYPE fieldbook_http_requests_total counter\n";
  for (const auto& [key, n] : metrics_.requests_by_route) {
    const size_t sp = key.rfind(' ');
    out << "fieldbook_http_requests_total{route=\"" << key.substr(0, sp) << "\",status=\"" << key.substr(sp + 1)
        << "\"} " << n << "\n";
  }
  out << "# TYPE fieldbook_request_duration_seconds histogram\n";
  int64_t cumulative = 0;
  for (size_t i = 0; i < metrics_.latency_buckets_us.size(); ++i) {
    cumulative += metrics_.latency_buckets_us[i];
    const std::string le = i < kLatencyBoundsUs.size() ? std::to_string(kLatencyBoundsUs[i] / 1e6) : "+Inf";
    out << "fieldbook_request_duration_seconds_bucket{le=\"" << le << "\"} " << cumulative << "\n";
  }
  out << "fieldbook_request_duration_seconds_sum " << metrics_.latency_sum_s << "\n";
  out << "fieldbook_request_duration_seconds_count " << metrics_.latency_count << "\n";
  out << "# TYPE fieldbook_batch_changes histogram\n";
  cumulative = 0;
  for (size_t i = 0; i < metrics_.batch_size_buckets.size(); ++i) {
    cumulative += metrics_.batch_size_buckets[i];
    const std::string le = i < kBatchBounds.size() ? std::to_string(kBatchBounds[i]) : "+Inf";
    out << "fieldbook_batch_changes_bucket{le=\"" << le << "\"} " << cumulative << "\n";
  }
  int64_t recent = 0;
  const int64_t now = env_.NowMs();
  for (const auto& [key, at] : metrics_.devices_seen_ms) {
    if (now - at < ApiMetrics::kConnectedWindowMs) ++recent;
  }
  out << "# TYPE fieldbook_connected_devices gauge\nfieldbook_connected_devices " << recent << "\n";
  ApiReply reply;
  reply.content_type = "text/plain; version=0.0.4";
  reply.body = out.str();
  return reply;
}

}  // namespace fieldbook::server
