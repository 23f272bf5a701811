// Small text helpers for generated SQL and identifiers.
#pragma once

#include <string>
#include <string_view>

namespace fieldbook::sync {

// 'text' with embedded quotes doubled: for names baked into generated trigger bodies.
std::string SqlLiteral(std::string_view text);
// Lower-case hex SHA-256 of text.
std::string HashHex(std::string_view text);

}  // namespace fieldbook::sync
