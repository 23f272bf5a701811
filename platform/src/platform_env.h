// The process-wide OS adapters the app sets once: its data directory and its key store.
// Thread-safe.
#pragma once

#include <string>

#include "fieldbook/core/status.h"
#include "fieldbook/fieldbook.h"
#include "secret_bytes.h"

namespace fieldbook::platform {

// Sets (or, with an empty path, clears) the directory relative paths resolve against.
Status SetDataDirectory(const std::string& path);
// `path` when it is absolute or no data directory is set, else data directory + "/" + path.
std::string ResolvePath(const std::string& path);

void SetKeyProvider(fieldbook_key_provider_fn provider, void* context);
// Asks the key store for the key of `db_path`: empty when no provider is registered,
// kCantOpen when the provider refuses.
Result<SecretBytes> FetchKey(const std::string& db_path);

}  // namespace fieldbook::platform
