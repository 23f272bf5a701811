// Schema registry: every table that syncs is declared here once.
//
// For each table: its columns (SQL type, merge policy, format for validation, whether
// the value is personal data), how its rows are partitioned between devices, and the
// schema version that introduced each column. The store's DDL, the sync engine's change
// capture and the server's scope checks are all derived from these declarations, so they
// cannot drift apart.
//
// Every synced table has an implicit `id TEXT PRIMARY KEY` (UUIDv7) not listed in columns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace fieldbook {

enum class SqlType { kText, kInteger, kReal };

enum class MergePolicy {
  kLww,         // last writer wins on (hlc, site)
  kTextMerge,   // three-way merge of free text against the base; overlap falls back to lww
  kMax,         // the greater value wins (last contact time, updated_at)
  kImmutable,   // set once at creation, never changed
  kServerOnly,  // written by the server only; clients may not write it
};

// What a value must look like; drives validation and JSON rendering.
enum class Format {
  kPlain,       // free text or number
  kRef,         // UUID of another row
  kDate,        // "YYYY-MM-DD"
  kTimestamp,   // UTC milliseconds
  kBool,        // 0/1, rendered true/false
  kEnum,        // one of enum_values
  kMoney,       // integer fen, >= 0
  kCount,       // integer >= 0
  kPhone,       // one phone number
  kPhoneList,   // JSON array of phone numbers
  kEmail,
  kIdNumber,    // identity document number, checked against the row's id_type
  kCreditCode,  // unified social credit code (统一社会信用代码)
  kJsonArray,   // JSON array stored as text, rendered as JSON
  kJsonObject,  // JSON object stored as text, rendered as JSON
  kLatitude,
  kLongitude,
  kPercent,     // 0..100
  kBlobRefs,    // JSON array naming attachments (docs/blobs.md): each element a lowercase
                // hex SHA-256 or an object with a "sha256" field; rendered as JSON
};

// How much care a value needs (redaction in logs, encryption at rest, minimisation).
enum class Sensitivity { kNone, kPersonal, kSensitive };

struct ColumnSpec {
  std::string name;
  SqlType type = SqlType::kText;
  MergePolicy merge = MergePolicy::kLww;
  Format format = Format::kPlain;
  bool required = false;  // must be present (non-null) on insert
  std::vector<std::string> enum_values;
  std::string references;  // synced table whose row this column points to (ON DELETE CASCADE)
  Sensitivity sensitivity = Sensitivity::kNone;
  size_t max_length = 4000;  // bytes, for text
  int since_version = 1;
};

enum class PartitionKind {
  kSelf,    // the row is its own root; owner_column / team_column say who holds it
  kRoot,    // root_column holds the id of the root row (in root_table, or any root table)
  kTeam,    // every member of team_column's team
  kTenant,  // everyone in the tenant
};

struct Partition {
  PartitionKind kind = PartitionKind::kSelf;
  std::string owner_column;
  std::string team_column;
  std::string root_column;
  std::string root_table;  // empty when the root may be in any kSelf table
};

struct TableSpec {
  std::string name;
  Partition partition;
  std::vector<ColumnSpec> columns;
  int since_version = 1;

  const ColumnSpec* Find(std::string_view column) const;
  int IndexOf(std::string_view column) const;  // -1 when absent
};

// SQL that goes with a schema version beyond the tables themselves (indexes, full-text
// search, local tables), run after that version's tables are created.
struct SchemaStep {
  int version = 1;
  std::string sql;
};

// An insert trigger a schema step creates, and the same effect for many rows at once:
// `bulk` does for every row of `table` whose rowid is in [?1, ?2] what `trigger` does for
// one inserted row. A writer inserting many rows (the sync engine applying a pulled page)
// may insert them with the triggers off and run `bulk` after (bulk_insert.h).
struct InsertTriggerBulkForm {
  std::string table;
  std::string trigger;
  std::string bulk;
};

class SchemaRegistry {
 public:
  explicit SchemaRegistry(std::vector<TableSpec> tables, std::vector<SchemaStep> extra = {},
                          std::vector<InsertTriggerBulkForm> bulk_forms = {});

  const std::vector<TableSpec>& tables() const { return tables_; }
  const TableSpec* Find(std::string_view table) const;
  // A short hash of every declaration that matters to storage and sync; two builds
  // with the same fingerprint store and sync identically.
  const std::string& fingerprint() const { return fingerprint_; }
  // Highest since_version of any table or column.
  int version() const { return version_; }
  const std::vector<SchemaStep>& extra_steps() const { return extra_; }
  const std::vector<InsertTriggerBulkForm>& bulk_forms() const { return bulk_forms_; }

 private:
  std::vector<TableSpec> tables_;
  std::vector<SchemaStep> extra_;
  std::vector<InsertTriggerBulkForm> bulk_forms_;
  std::string fingerprint_;
  int version_ = 1;
};

// Fluent helpers for declaring tables tersely and readably.
class TableBuilder {
 public:
  TableBuilder(std::string name, Partition partition);
  TableBuilder& Since(int version);
  TableBuilder& Text(std::string name, Format format = Format::kPlain);
  TableBuilder& Int(std::string name, Format format = Format::kPlain);
  TableBuilder& Real(std::string name, Format format = Format::kPlain);
  TableBuilder& Enum(std::string name, std::initializer_list<const char*> values);
  TableBuilder& Ref(std::string name, std::string table);  // kRef column with ON DELETE CASCADE
  // Modifiers apply to the column declared last.
  TableBuilder& Required();
  TableBuilder& Merge(MergePolicy policy);
  TableBuilder& Personal();
  TableBuilder& Sensitive();
  TableBuilder& MaxLength(size_t n);
  TableBuilder& ColumnSince(int version);
  TableSpec Build() &&;

 private:
  ColumnSpec& Add(std::string name, SqlType type, Format format);
  TableSpec spec_;
};

Partition OwnedBy(std::string owner_column, std::string team_column);
Partition UnderRoot(std::string root_column, std::string root_table = {});
Partition TeamWide(std::string team_column);
Partition TenantWide();

// "CREATE TABLE IF NOT EXISTS ..." (STRICT) for a table with the columns it has at
// `version`; the one place table DDL is generated (layers above core use it for their own
// synced tables).
std::string CreateTableSql(const TableSpec& table, int version);

std::string_view MergePolicyName(MergePolicy p);
std::string_view SqlTypeName(SqlType t);  // STRICT type name: TEXT, INTEGER, REAL

}  // namespace fieldbook
