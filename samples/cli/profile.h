// Opening an agent profile for a CLI command.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "fieldbook/core/store.h"

namespace fieldbook::cli {

// Opens --db (creating it only for `init`) with change capture installed.
Result<std::unique_ptr<Store>> OpenProfile(const Context& ctx, bool create = false);
// The profile's encryption key from --key-file or FIELDBOOK_KEY_FILE, if any.
Result<std::optional<std::string>> ProfileKey(const Context& ctx);
// Every table that syncs: the archive's and the sync engine's own (conflicts).
std::vector<const TableSpec*> SyncedTables(const Store& store);

}  // namespace fieldbook::cli
