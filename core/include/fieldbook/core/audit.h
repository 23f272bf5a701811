// Access audit (PIPL): who read or exported personal data, when, what and why.
//
// Guarantees:
//  1. Every command and C API method that shows personal data records one access_audit
//     row after the read succeeds: the profile's agent and team, the time, the action,
//     the table, the ids read (at most kMaxAuditIds; beyond that only the count) and a
//     purpose from a fixed list.
//  2. Audit rows hold ids, counts and codes only, never names, phone or ID numbers: every
//     value is an enum, a count, a timestamp, an agent id or a row id.
//  3. access_audit is a synced table partitioned by agent and team, so the agent's lead and
//     the tenant's admin (the compliance officer) receive the rows through the normal sync
//     pull. Every column is immutable and local deletes are refused: append-only. The
//     record layer refuses audit rows (AuditTableRule): only RecordAccess writes them.
//  4. A profile opened read-only cannot write, so reads through a read-only handle are not
//     recorded; apps open read-only handles only for views without personal data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/records.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

inline constexpr std::string_view kAccessAuditTable = "access_audit";
inline constexpr size_t kMaxAuditIds = 200;

std::vector<TableSpec> AuditTables();
std::vector<SchemaStep> AuditSchemaSteps();

struct AccessRecord {
  std::string action;   // read, list, search, export
  std::string target;   // table name, or "all"
  std::vector<std::string> ids;
  int64_t count = -1;   // rows read; -1 = ids.size()
  std::string purpose;  // empty = DefaultPurpose(action)
  std::string channel = "cli";  // cli or api
};

// The purposes a caller may give (service, sales, claim, complaint, review, analytics,
// backup, compliance, transfer, other); kInvalidArgument naming "purpose" otherwise.
Status CheckPurpose(std::string_view purpose);
std::string DefaultPurpose(std::string_view action);

// True when the table has a personal or sensitive column.
bool HoldsPersonalData(const TableSpec& table);

// Appends one audit row for the profile's agent at the store's clock.
Status RecordAccess(Store& store, const AccessRecord& record);

// The "id" of each object in a JSON array of rows (at most kMaxAuditIds) and the count.
void IdsFromRows(std::string_view rows_json, AccessRecord& record);

// The table rule of access_audit: refuses every write through Records.
Status AuditTableRule(Store& store, RowValues& row, const RowValues* before, const WriteContext& ctx);

// Audit rows with `at` in [from, to] (dates in UTC+8, inclusive; empty = unbounded),
// oldest first, as a JSON array.
Result<std::string> ListAccessJson(Store& store, std::string_view from, std::string_view to);

}  // namespace fieldbook
