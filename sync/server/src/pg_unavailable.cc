// The PostgreSQL backend in a build without libpq (FIELDBOOK_WITH_POSTGRES=OFF or libpq
// not found): asking for it says so.
#include "fieldbook/server/pg_backend.h"
#include "fieldbook/server/restore.h"

namespace fieldbook::server {

bool PostgresBackendBuilt() { return false; }
int PostgresSchemaVersion() { return 0; }

Result<std::unique_ptr<ServerBackend>> OpenPostgresBackend(const std::string&) {
  return Status(ErrorCode::kUnavailable,
                "this fieldbook-server was built without PostgreSQL (FIELDBOOK_WITH_POSTGRES=OFF or libpq missing); "
                "use --db FILE or rebuild with libpq-dev installed",
                "postgres");
}

Result<std::string> RenewPostgresEpoch(const std::string&) {
  return Status(ErrorCode::kUnavailable, "this fieldbook-server was built without PostgreSQL", "postgres");
}

}  // namespace fieldbook::server
