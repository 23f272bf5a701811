// HttpServer: fieldbook-server's network front end. HTTP/1.1 (optionally over TLS) on
// Boost.Asio/Beast, marshalling every request to Api::Handle and its reply back; all
// routing, auth and error bodies live in the Api, none here.
//
// Guarantees:
//  1. Every request a client manages to send gets an HTTP answer: a body over the wire
//     limit is a 413 JSON error and an unparsable request a 400 JSON error (both then
//     close the connection); the connection is never just dropped.
//  2. Each read has a timeout (idle keep-alive connections and slow senders are closed).
//  3. Api::Handle runs on the worker threads; a request that blocks (SQLite busy) holds
//     one thread and no other connection, so up to `threads` requests run at once.
//  4. Stop() is graceful: no new connections, Api::BeginShutdown(), idle keep-alive
//     connections closed, requests in flight finish (bounded by drain_timeout) and are
//     answered with "Connection: close"; then the threads stop.
//
// Beast and Asio stay inside http_server.cc; this header pulls in neither.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fieldbook/core/status.h"
#include "fieldbook/server/http_api.h"

namespace fieldbook::server {

// What the access log records about one request. Never bodies, tokens or error messages
// (which may quote personal data): only the stable error code and the field it concerns.
struct AccessLogEntry {
  int64_t time_ms = 0;       // UTC, when the request was read
  std::string method;
  std::string route;         // path without query; device ids replaced by ":site"
  int status = 0;
  double duration_ms = 0;    // Api::Handle only
  std::string tenant;        // from a valid token, else empty
  std::string error_code;    // from the JSON error body, else empty
  std::string error_field;   // the offending field when the error names one
  size_t bytes_in = 0;
  size_t bytes_out = 0;
};

// One JSON object, no trailing newline.
std::string AccessLogJson(const AccessLogEntry& entry);

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see HttpServer::port())
  int threads = 4;
  // Largest request body accepted on the wire. Api checks its own limit after
  // decompression; this one only keeps memory bounded.
  size_t body_limit = (64u << 20) + (1u << 20);
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds drain_timeout{10000};
  // PEM files; both set turns TLS on.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Token secret, used only to name the tenant in the access log.
  std::string token_secret;
  // Called once per answered request, from a worker thread (possibly several at once).
  std::function<void(const AccessLogEntry&)> access_log;
  // Server events that are not requests ("accept_failed", "handler_exception",
  // "worker_exception"); the detail is a system error text, never request data.
  std::function<void(const std::string& event, const std::string& detail)> event_log;
};

// The wire body limit for an Api limit: gzip may expand incompressible data a little.
size_t WireBodyLimit(size_t api_max_body_bytes);

class HttpServer {
 public:
  // Binds, listens and starts the worker threads. `api` must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(Api& api, HttpServerConfig config);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const std::string& host() const;
  uint16_t port() const;  // the bound port, also when 0 was asked for
  bool tls() const;

  // Graceful stop (guarantee 4); returns when the worker threads have exited.
  // Idempotent and safe to call from any thread but a worker.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldbook::server
