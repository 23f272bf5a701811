// After a server database was restored from a backup it may hold less than devices have
// already pulled, and new seqs would reuse numbers devices have seen. Renewing the epoch
// (the database's identity, see protocol.md) makes every device start its pull again
// from the beginning on its next sync. Run it with the servers stopped.
#pragma once

#include <string>

#include "fieldbook/core/status.h"

namespace fieldbook::server {

// Both return the new epoch. A database that is not a fieldbook-server database (or a
// PostgreSQL build missing) is an error; nothing is created.
Result<std::string> RenewSqliteEpoch(const std::string& path);
Result<std::string> RenewPostgresEpoch(const std::string& uri);

}  // namespace fieldbook::server
