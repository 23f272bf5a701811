// How the device keeps blob bytes in fb_blobs.data (invariant 2 of fieldbook/sync/blobs.h),
// shared by the local blob store and the transfers.
#pragma once

#include <string>
#include <string_view>

#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook::sync {

// Kept bytes (fb_blobs.data) as they were put: opened when sealed (kWrongKey without the
// profile key).
Result<std::string> OpenBytes(const Store& store, std::string_view stored, const std::string& sha256);
// The bytes as kept: sealed with the profile's cipher when it has one, else as they are.
Result<std::string> SealBytes(const Store& store, std::string_view bytes);
// Binds kept bytes (from SealBytes) to parameter `index`: sealed text, or a blob.
void BindStoredBytes(const Store& store, Statement& st, int index, const std::string& data);

}  // namespace fieldbook::sync
