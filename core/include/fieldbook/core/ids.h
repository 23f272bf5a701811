// Row ids are UUIDv7 text (RFC 9562): time-ordered, 36 characters, lower-case hex.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fieldbook/core/env.h"

namespace fieldbook {

std::string NewUuidV7(Env& env);
// The UUIDv7 of instant `ms` built from 16 random bytes (74 bits of them are used), for
// writers that draw randomness for many ids at once.
std::string UuidV7(int64_t ms, const uint8_t* random16);
// 16 bytes as 8-4-4-4-12 lower-case hex.
std::string FormatUuid(const uint8_t* bytes16);
// True for any canonical 8-4-4-4-12 hex UUID (any version), lower or upper case.
bool IsUuid(std::string_view text);
// True for a content address: 64 lower-case hex digits (a SHA-256).
bool IsSha256Hex(std::string_view text);
// Lower-case hex of bytes.
std::string HexEncode(const uint8_t* data, size_t n);

}  // namespace fieldbook
