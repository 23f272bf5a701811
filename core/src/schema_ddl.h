// DDL derived from the schema registry: the one place CREATE TABLE text is generated.
#pragma once

#include <string>
#include <vector>

#include "fieldbook/core/schema_registry.h"

namespace fieldbook {

// Statements that take a database from schema version-1 to version.
std::vector<std::string> SchemaStepDdl(const SchemaRegistry& registry, int version);

}  // namespace fieldbook
