#pragma once

#include <map>
#include <string>

#include "fieldbook/core/records.h"

namespace fieldbook {

// Cross-field rules and defaults of the archive tables, keyed by table name.
std::map<std::string, TableRule, std::less<>> ArchiveRules();

}  // namespace fieldbook
