// The PostgreSQL server backend: the same storage model as the embedded SQLite backend
// (server_store.h), for several fieldbook-server instances sharing one database.
//
// Guarantees on top of the ServerBackend invariants:
//  1. Opening migrates the schema to the current version in one transaction under a
//     database-wide advisory lock, so instances starting at once migrate it exactly once;
//     a database migrated by a newer server is refused, never touched.
//  2. A tenant's writers are serialised by a row lock on the tenant's counter row (taken
//     by BeginWrite and held to commit), so seqs are allocated and committed in order and
//     a batch id acknowledged by one instance is seen by every other (idempotent retries).
//  3. Nothing an instance needs lives in its memory: sessions are plain connections.
#pragma once

#include <memory>
#include <string>

#include "fieldbook/core/status.h"
#include "fieldbook/server/server_store.h"

namespace fieldbook::server {

// True when this build includes the PostgreSQL backend (FIELDBOOK_WITH_POSTGRES).
bool PostgresBackendBuilt();

// `uri` is a libpq connection string or URI ("postgresql://user@host:5432/db",
// "host=/run/postgresql dbname=fieldbook"). Without PostgreSQL support in the build this
// returns kUnavailable saying so.
Result<std::unique_ptr<ServerBackend>> OpenPostgresBackend(const std::string& uri);

// The schema version this server writes (srv_schema.version after migration).
int PostgresSchemaVersion();

}  // namespace fieldbook::server
