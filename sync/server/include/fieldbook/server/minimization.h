// Data minimisation: which columns a caller receives and may write, decided in one place.
//
// The rule: a column the schema registry marks Sensitive (identity document numbers,
// phone numbers, street addresses, visit coordinates, the values in conflict records) is
// for the agent who owns the customer and for the tenant's administrator. A team lead
// sees the rest of the team's customers — enough for analytics, reassignment and
// coaching — but not those columns of customers owned by other agents:
//
// | role  | own customers | others' customers in scope |
// |-------|---------------|----------------------------|
// | agent | all columns   | (not in scope)             |
// | lead  | all columns   | sensitive columns withheld |
// | admin | all columns   | all columns                |
//
// Rows without an owner (team- or tenant-wide) are never withheld. A withheld column is
// left out of the pulled row (devices store it as null). Writing a column one may not see
// refuses the whole batch with 403 `forbidden` naming the column: a write to a value the
// writer never saw would overwrite it blindly.
#pragma once

#include <string>

#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/server/server_store.h"

namespace fieldbook::server {

// True when `scope` receives and may write the sensitive columns of rows under `root`.
bool SeesSensitive(const Scope& scope, const RootInfo& root);

// True when any column of `table` is withheld from those who do not see sensitive data.
bool HasWithheldColumns(const TableSpec& table);
bool IsWithheldColumn(const ColumnSpec& column);

// The pulled row body (EncodeRow's form) without the withheld columns' cells and versions.
Result<std::string> WithholdSensitive(const TableSpec& table, std::string_view body);

}  // namespace fieldbook::server
