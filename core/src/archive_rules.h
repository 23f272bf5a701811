#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "fieldbook/core/records.h"

namespace fieldbook {

// Cross-field rules and defaults of the archive tables, keyed by table name.
std::map<std::string, TableRule, std::less<>> ArchiveRules();

// For the rule sets of every domain: an integer column, when set, lies in [lo, hi]
// (kInvalidField naming the column otherwise).
Status InRange(const RowValues& row, const char* column, int64_t lo, int64_t hi);

}  // namespace fieldbook
