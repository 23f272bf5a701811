// In-process sync harness: a server (SQLite backend + the real HTTP API functions) and
// devices (real stores with change capture) connected by a transport that calls the API
// directly, optionally through a fault injector.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/store.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/server/http_api.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/client.h"
#include "support/test_support.h"

namespace fieldbook::testing {

// Calls Api::Handle as the network would (headers lower-cased).
class ApiTransport : public sync::Transport {
 public:
  explicit ApiTransport(server::Api& api) : api_(api) {}
  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override;

 private:
  server::Api& api_;
};

// An exchange whose outcome is already known: a test transport that carries the request
// at Start (as a network would, while the device works) hands it back through this.
class AnsweredExchange : public sync::PendingExchange {
 public:
  explicit AnsweredExchange(Result<sync::HttpResponse> outcome) : outcome_(std::move(outcome)) {}
  Result<sync::HttpResponse> Wait() override { return std::move(outcome_); }

 private:
  Result<sync::HttpResponse> outcome_;
};

struct TestServer {
  // Simulations pass durable = false: nothing is fsynced.
  explicit TestServer(const std::string& path, Env* env = nullptr, bool durable = true);
  // The same API over another backend (PostgreSQL, in the server tests).
  explicit TestServer(std::unique_ptr<server::ServerBackend> backend, Env* env = nullptr);
  std::string Token(const std::string& agent, const std::string& team, server::Role role = server::Role::kAgent,
                    const std::string& tenant = "t1", int64_t ttl_ms = 3600 * 1000);

  // Takes a changed `config` (the same store behind it).
  void Restart();

  Env* env;
  std::string secret = "test-secret-0123456789";
  server::ApiConfig config;
  std::unique_ptr<server::ServerBackend> backend;
  std::unique_ptr<server::Api> api;
  std::unique_ptr<ApiTransport> transport;
};

struct TestDevice {
  TestDevice(const std::string& path, const std::string& agent, const std::string& team, Env* env = nullptr,
             bool durable = true);
  // page_limit, push_limit 0: the client's defaults.
  Result<sync::SyncReport> Sync(sync::Transport& transport, const std::string& token, int page_limit = 0,
                                int push_limit = 0);
  // With any of the client's options (max_round_trips, cancel, ...).
  Result<sync::SyncReport> Sync(sync::Transport& transport, const sync::SyncOptions& options);
  std::string Export();
  // A customer's field as the archive shows it: a string as is, anything else as JSON.
  std::string Field(const std::string& customer_id, const char* field);

  std::unique_ptr<Store> store;
  std::unique_ptr<Archive> archive;
};

// A page of long rows stops at the server's byte budget, and a row larger than the budget
// still comes, whole, in a page of its own: checked with `server` (its budget is set to
// 3000 bytes here) and two devices in `dir`, on each backend.
void CheckPageByteBudget(TestServer& server, TempDir& dir);

}  // namespace fieldbook::testing
