// Value: one SQLite cell as Fieldbook moves it between the store, the sync engine and
// the wire: NULL, 64-bit integer, double or UTF-8 text.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace fieldbook {

using Value = std::variant<std::monostate, int64_t, double, std::string>;

inline bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }
inline const std::string* AsText(const Value& v) { return std::get_if<std::string>(&v); }
inline const int64_t* AsInt(const Value& v) { return std::get_if<int64_t>(&v); }

}  // namespace fieldbook
