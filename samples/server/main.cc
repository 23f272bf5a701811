// fieldbook-server: the sync server over embedded SQLite or PostgreSQL (see options.cc for
// the command line). stdout carries exactly one line, "listening on HOST:PORT", once
// connections are accepted; stderr carries one JSON object per line (requests and
// lifecycle events) with no bodies, tokens or error messages in it.
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "fieldbook/core/archive_schema.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/core/store.h"
#include "fieldbook/core/json.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/server/http_api.h"
#include "fieldbook/server/http_server.h"
#include "fieldbook/server/log_redaction.h"
#include "fieldbook/server/pg_backend.h"
#include "fieldbook/server/restore.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/erasure.h"
#include "options.h"

namespace fieldbook::server_cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitCannotStart = 1;
constexpr int kExitUsage = 2;

int64_t NowMs() { return SystemEnv().NowMs(); }

// One line per call, whole, even with several worker threads logging.
void LogLine(const std::string& json) {
  static std::mutex mu;
  const std::string line = json + "\n";
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void LogEvent(const std::string& event, std::initializer_list<std::pair<const char*, std::string>> fields) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("time");
  w.Int64(NowMs());
  w.Key("event");
  w.String(event.c_str());
  for (const auto& [key, value] : fields) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  LogLine(std::string(buf.GetString(), buf.GetSize()));
}

int UsageError(const std::string& message) {
  std::cerr << "fieldbook-server: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

int CannotStart(const std::string& message) {
  std::cerr << "fieldbook-server: " << message << "\n";
  return kExitCannotStart;
}

int Token(const std::vector<std::string>& args) {
  auto parsed = ParseTokenOptions(args);
  if (!parsed.options) return UsageError(parsed.error);
  const TokenOptions& o = *parsed.options;
  auto secret = server::ReadSecretFile(o.secret_file);
  if (!secret.ok()) return CannotStart(secret.status().message());
  server::TokenClaims claims;
  claims.tenant = o.tenant;
  claims.agent = o.agent;
  claims.team = o.team;
  claims.role = *server::RoleFromName(o.role);
  claims.issued_at_ms = NowMs();
  claims.expires_at_ms = claims.issued_at_ms + o.ttl_seconds * 1000;
  claims.id = NewUuidV7(SystemEnv());
  std::cout << server::SignToken(claims, *secret) << std::endl;
  return kExitOk;
}

int RenewEpoch(const std::vector<std::string>& args) {
  auto parsed = ParseDatabaseOptions(args);
  if (!parsed.options) return UsageError(parsed.error);
  const DatabaseOptions& o = *parsed.options;
  auto epoch = o.postgres.empty() ? server::RenewSqliteEpoch(o.db) : server::RenewPostgresEpoch(o.postgres);
  if (!epoch.ok()) return CannotStart("cannot renew the epoch: " + epoch.status().ToString());
  std::cout << *epoch << std::endl;
  return kExitOk;
}

// Runs Api::CollectBlobs on its own thread until stopped.
class BlobCollector {
 public:
  explicit BlobCollector(server::Api& api) : api_(api), thread_([this] { Loop(); }) {}
  ~BlobCollector() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    const auto period = std::chrono::milliseconds(std::clamp<int64_t>(api_.blob_grace_ms(), 1000, 3600 * 1000));
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      auto gc = api_.CollectBlobs("");
      if (!gc.ok()) {
        LogEvent("blob_gc_failed", {{"detail", server::RedactPersonalData(gc.status().ToString())}});
      } else if (gc->complete + gc->partial > 0) {
        LogEvent("blob_gc", {{"deleted_complete", std::to_string(gc->complete)},
                             {"deleted_partial", std::to_string(gc->partial)},
                             {"bytes_freed", std::to_string(gc->bytes)}});
      }
      lock.lock();
    }
  }

  server::Api& api_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

int Run(const std::vector<std::string>& args) {
  auto parsed = ParseRunOptions(args);
  if (!parsed.options) return UsageError(parsed.error);
  const RunOptions& o = *parsed.options;

  auto secret = server::ReadSecretFile(o.secret_file);
  if (!secret.ok()) return CannotStart(secret.status().message());
  auto backend = o.postgres.empty() ? server::OpenSqliteBackend(o.db) : server::OpenPostgresBackend(o.postgres);
  if (!backend.ok()) {
    // A connection string may hold a password: it is not repeated in the message.
    return CannotStart(o.postgres.empty() ? "cannot open database " + o.db + ": " + backend.status().ToString()
                                          : "cannot open PostgreSQL database: " + backend.status().ToString());
  }

  server::ApiConfig api_config;
  api_config.secret = *secret;
  if (o.max_body_bytes > 0) api_config.max_body_bytes = static_cast<size_t>(o.max_body_bytes);
  for (const auto& t : ArchiveRegistry().tables()) api_config.service.tables.push_back(&t);
  api_config.service.tables.push_back(&sync::ConflictsTable());
  api_config.service.tables.push_back(&sync::ErasuresTable());
  if (o.max_skew_ms >= 0) api_config.service.max_skew_ms = o.max_skew_ms;
  if (o.page_size > 0) {
    api_config.service.default_page = o.page_size;
    api_config.service.max_page = std::max(api_config.service.max_page, o.page_size);
  }
  if (o.max_blob_bytes > 0) api_config.max_blob_bytes = o.max_blob_bytes;
  if (o.blob_grace_seconds >= 0) api_config.blob_grace_ms = o.blob_grace_seconds * 1000;
  server::Api api(**backend, SystemEnv(), api_config);

  server::HttpServerConfig http;
  http.host = o.host;
  http.port = o.port;
  // Api::Handle blocks on SQLite, so more threads than cores keep other devices served.
  http.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  http.body_limit = server::WireBodyLimit(api_config.max_body_bytes);
  http.tls_cert_file = o.tls_cert;
  http.tls_key_file = o.tls_key;
  http.token_secret = *secret;
  http.access_log = [](const server::AccessLogEntry& e) { LogLine(server::AccessLogJson(e)); };
  // An exception's text may quote request data: redacted like everything else logged.
  http.event_log = [](const std::string& event, const std::string& detail) {
    LogEvent(event, {{"detail", server::RedactPersonalData(detail)}});
  };

  // Signals are taken synchronously by this thread only: block them before any worker
  // thread exists so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = server::HttpServer::Start(api, http);
  if (!server.ok()) return CannotStart(server.status().message());
  const std::string host = (*server)->host().find(':') != std::string::npos ? "[" + (*server)->host() + "]"
                                                                              : (*server)->host();
  const std::string where = host + ":" + std::to_string((*server)->port());
  LogEvent("started", {{"listen", where},
                       {"tls", (*server)->tls() ? "on" : "off"},
                       {"threads", std::to_string(http.threads)},
                       {"backend", (**backend).Describe()}});
  std::cout << "listening on " << where << std::endl;

  // Blob garbage collection: as often as the grace period (between a second and an hour).
  BlobCollector collector(api);

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  LogEvent("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  collector.Stop();
  (*server)->Stop();
  LogEvent("stopped", {});
  return kExitOk;
}

}  // namespace
}  // namespace fieldbook::server_cli

int main(int argc, char** argv) {
  fieldbook::ConfigureSqliteForProcess();
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << fieldbook::server_cli::kUsage;
      return 0;
    }
  }
  if (!args.empty() && args.front() == "token") {
    return fieldbook::server_cli::Token(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args.front() == "renew-epoch") {
    return fieldbook::server_cli::RenewEpoch(std::vector<std::string>(args.begin() + 1, args.end()));
  }
#ifdef __GLIBC__
  // Sync bodies are megabytes: keep freed memory for the next request rather than
  // returning it to the kernel and faulting it in again.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  return fieldbook::server_cli::Run(args);
}
