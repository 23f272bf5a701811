// SyncService: the POST /v1/sync handler as a pure function of (session, principal,
// body) -> (HTTP status, body), separate from any socket so it can be tested and
// simulated without a network (the Beast server and the simulation both call it).
//
// Guarantees:
//  1. A batch is applied whole or not at all (one write transaction); a batch id seen
//     before is acknowledged again without being applied twice.
//  2. Malformed input, unknown tables or columns, writes to server-only or immutable
//     columns, clock stamps too far in the future and writes outside the caller's scope
//     refuse the whole batch with a stable error code; the server never crashes on input.
//  3. Every write that loses to a concurrent write it had not seen becomes a row of the
//     synced `conflicts` table; nothing acknowledged is silently dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/env.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/server/server_store.h"
#include "fieldbook/sync/protocol.h"

namespace fieldbook::server {

struct ServiceConfig {
  std::vector<const TableSpec*> tables;  // synced tables (registry + conflicts)
  int64_t max_skew_ms = 5 * 60 * 1000;
  int default_page = 1000;
  int max_page = 5000;
  // A page stops growing past this many bytes of rows (it still carries at least one), so
  // a page of long texts stays a size a phone can inflate and parse.
  size_t max_page_bytes = 8u << 20;
  size_t max_changes = 50000;
};

struct Principal {
  std::string tenant;
  std::string agent;
  std::string team;
  Role role = Role::kAgent;
  std::string token_id;

  Scope scope() const { return Scope{tenant, agent, team, role}; }
};

struct ServiceResult {
  int http_status = 200;
  std::string body;
  Status status;           // what went wrong, for logs and metrics
  int64_t applied = 0;     // changes applied from the batch
  int64_t conflicts = 0;   // conflicts recorded for the batch
  int64_t pulled = 0;      // rows in the page
  size_t changes = 0;      // changes in the request
  std::string site;        // the requesting device
};

int HttpStatusFor(const Status& status);

class SyncService {
 public:
  SyncService(ServerBackend& backend, Env& env, ServiceConfig config);

  ServiceResult HandleSync(ServerSession& session, const Principal& who, std::string body);
  const ServiceConfig& config() const { return config_; }
  ServerBackend& backend() { return backend_; }

  // Moves a customer (any root row) to another agent/team, as the admin API does. The new
  // owner's devices receive it with all its rows; the old owner's devices evict it.
  Status Reassign(ServerSession& session, const std::string& tenant, const std::string& table,
                  const std::string& root_id, const std::string& owner, const std::string& team);

 private:
  Status Push(ServerSession& session, const Principal& who, const sync::SyncRequest& request,
              ServiceResult& result);
  Status PullPage(ServerSession& session, const Principal& who, const sync::SyncRequest& request, bool force_reset,
                  sync::SyncResponse& response);

  ServerBackend& backend_;
  Env& env_;
  const ServiceConfig config_;
};

}  // namespace fieldbook::server
