// Records: validated reads and writes of any registered table, driven by the schema
// registry. JSON objects in (keys are column names), JSON objects out.
//
// Guarantees:
//  1. Every value is checked against its column's format before anything is written; the
//     first problem is returned as a Status whose field() names the column.
//  2. Unknown keys are refused (kUnknownField), never silently dropped.
//  3. Text is stored byte-exact (any Unicode, CJK, emoji); only phone numbers, ID numbers
//     and credit codes are normalised, as their validators document.
//  4. Writes go through plain SQL on the store, so change capture sees them like any write.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/json.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"
#include "fieldbook/core/value.h"

namespace fieldbook {

// Who is writing and when; fills defaults such as owner_agent and created_at.
struct WriteContext {
  std::string agent;
  std::string team;
  int64_t now_ms = 0;
};

// One row's values aligned with TableSpec::columns; `present` marks the columns a write sets.
struct RowValues {
  explicit RowValues(const TableSpec& t) : table(&t), values(t.columns.size()), present(t.columns.size(), 0) {}

  bool Has(std::string_view column) const;
  const Value* Get(std::string_view column) const;  // nullptr when absent or NULL
  std::optional<std::string> Text(std::string_view column) const;
  std::optional<int64_t> Int(std::string_view column) const;
  void Set(std::string_view column, Value v);
  void SetDefault(std::string_view column, Value v);  // only when absent

  const TableSpec* table;
  std::string id;  // empty until inserted or loaded
  std::vector<Value> values;
  std::vector<char> present;
};

// Rules beyond one column's format: cross-field checks and defaults. `before` is the
// stored row for an update (nullptr on insert); `row` holds the merged result.
using TableRule = std::function<Status(Store& store, RowValues& row, const RowValues* before,
                                       const WriteContext& ctx)>;

class Records {
 public:
  // `extra` declares tables kept by layers above core (the sync engine's conflicts).
  explicit Records(Store& store, std::map<std::string, TableRule, std::less<>> rules = {},
                   std::vector<const TableSpec*> extra = {});

  const TableSpec& Table(std::string_view name) const;  // must exist
  const TableSpec* FindTable(std::string_view name) const;

  // Parses and validates one JSON object for `table`. On insert, required columns must be
  // present unless a rule supplies them; `allow_id` accepts a caller-chosen UUID "id".
  Result<RowValues> FromJson(const TableSpec& table, const rapidjson::Value& object) const;

  Result<std::string> Insert(RowValues row, const WriteContext& ctx);
  Status Update(std::string_view table, std::string_view id, const RowValues& patch, const WriteContext& ctx);
  Status Delete(std::string_view table, std::string_view id);
  Result<std::optional<RowValues>> Get(std::string_view table, std::string_view id);
  Result<bool> Exists(std::string_view table, std::string_view id);

  // Runs the table's rules and required-column checks on a complete row.
  Status Check(RowValues& row, const RowValues* before, const WriteContext& ctx, bool insert);

  Store& store() { return store_; }

 private:
  Store& store_;
  std::map<std::string, TableRule, std::less<>> rules_;
  std::vector<const TableSpec*> extra_;
};

// Converts one JSON value for a column, applying its format's validation.
Result<Value> ColumnValueFromJson(const ColumnSpec& column, const rapidjson::Value& v);
// Writes one stored value as JSON according to its column's format.
void WriteColumnJson(const ColumnSpec& column, const Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w);
// Writes a whole row as a JSON object: "id" then every column (keys sorted when canonical).
void WriteRowJson(const RowValues& row, rapidjson::Writer<rapidjson::StringBuffer>& w, bool canonical = false);
// "SELECT id, c1, c2, ... FROM t" for a table, columns in declaration order.
std::string SelectRowSql(const TableSpec& table);
// Reads a row selected with SelectRowSql.
RowValues ReadRow(const TableSpec& table, const Statement& st);
// Reads column `index` of table.columns from such a row (opened when encrypted at rest).
Value ReadCell(const TableSpec& table, const Statement& st, size_t index);
// Steps `st` (a SelectRowSql query of `table`, bound) to its end and writes the rows as
// a JSON array; RowsJson returns that array as text.
Status WriteRowsJson(const TableSpec& table, Statement& st, rapidjson::Writer<rapidjson::StringBuffer>& w);
Result<std::string> RowsJson(const TableSpec& table, Statement& st);

}  // namespace fieldbook
