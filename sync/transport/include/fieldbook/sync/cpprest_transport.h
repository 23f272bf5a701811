// CpprestTransport: sync::Transport over cpprestsdk, for desktop tools (the CLI) and the
// server tests. Apps on phones bring their own HTTP stack through the same interface.
//
// Guarantees:
//  1. The request goes out as given (method, path, headers, body bytes) and the reply
//     comes back as received: status and raw body bytes. Nothing is decompressed or
//     re-encoded here; the sync client handles gzip.
//  2. Send never throws. Failing to reach the server (refused, DNS, TLS, reset) is
//     kUnreachable; no progress within the timeout is kTimeout; a bad base URL or path is
//     kInvalidArgument. Any HTTP status, 4xx and 5xx included, is a response.
//  3. Thread-safe: concurrent Sends share one connection pool.
//  4. Start returns at once: the request is written and the reply read on cpprest's
//     threads. An exchange dropped without Wait is left to finish; its outcome is
//     observed and discarded.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "fieldbook/sync/client.h"

namespace fieldbook::sync {

struct CpprestTransportOptions {
  std::chrono::milliseconds timeout{60000};
  // https: check the server's certificate (and host name) against the system store, or
  // only against ca_file (PEM) when set.
  bool verify_tls = true;
  std::string ca_file;
};

class CpprestTransport : public Transport {
 public:
  // base_url: "http://host:port" or "https://host:port", optionally with a path prefix.
  explicit CpprestTransport(std::string base_url, CpprestTransportOptions options = {});
  ~CpprestTransport() override;
  CpprestTransport(const CpprestTransport&) = delete;
  CpprestTransport& operator=(const CpprestTransport&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request) override;
  // The exchange runs on cpprest's threads while the caller works.
  std::unique_ptr<PendingExchange> Start(HttpRequest request) override;

  const std::string& base_url() const { return base_url_; }
  // Ok, or why every Send will fail with kInvalidArgument (bad URL or CA file).
  const Status& status() const { return invalid_; }

 private:
  struct Client;
  std::unique_ptr<PendingExchange> Begin(const HttpRequest& request);
  std::string base_url_;
  std::unique_ptr<Client> client_;  // null when base_url is not a valid URL
  Status invalid_;                  // why, in that case; ok otherwise
};

// Checks the URL (and CA file) up front: kInvalidArgument instead of a transport whose
// every Send fails.
Result<std::unique_ptr<CpprestTransport>> MakeCpprestTransport(std::string base_url,
                                                               CpprestTransportOptions options = {});

}  // namespace fieldbook::sync
