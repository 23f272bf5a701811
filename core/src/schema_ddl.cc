#include "schema_ddl.h"

#include "fieldbook/core/store.h"

namespace fieldbook {
namespace {

std::string ColumnDdl(const ColumnSpec& c) {
  std::string out = QuoteIdent(c.name) + " " + std::string(SqlTypeName(c.type));
  if (!c.references.empty()) {
    out += " REFERENCES " + QuoteIdent(c.references) + "(id) ON DELETE CASCADE";
  }
  return out;
}

std::string IndexSql(const TableSpec& t, const std::string& column) {
  return "CREATE INDEX IF NOT EXISTS " + QuoteIdent("fb_ix_" + t.name + "_" + column) + " ON " +
         QuoteIdent(t.name) + "(" + QuoteIdent(column) + ")";
}

// Columns every query filters by: references, partition keys.
std::vector<std::string> IndexedColumns(const TableSpec& t, int version) {
  std::vector<std::string> out;
  for (const auto& c : t.columns) {
    if (c.since_version != version) continue;
    const bool key = c.name == t.partition.owner_column || c.name == t.partition.team_column ||
                     c.name == t.partition.root_column;
    if (!c.references.empty() || key) out.push_back(c.name);
  }
  return out;
}

}  // namespace

std::string CreateTableSql(const TableSpec& t, int version) {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + QuoteIdent(t.name) + " (id TEXT PRIMARY KEY NOT NULL";
  for (const auto& c : t.columns) {
    if (c.since_version <= version) sql += ", " + ColumnDdl(c);
  }
  sql += ") STRICT";
  return sql;
}

std::vector<std::string> SchemaStepDdl(const SchemaRegistry& registry, int version) {
  std::vector<std::string> out;
  if (version == 1) {
    out.push_back(
        "CREATE TABLE IF NOT EXISTS fb_settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT");
    out.push_back(
        "CREATE TABLE IF NOT EXISTS fb_schema (component TEXT PRIMARY KEY NOT NULL, "
        "version INTEGER NOT NULL) STRICT");
  }
  for (const auto& t : registry.tables()) {
    if (t.since_version == version) {
      out.push_back(CreateTableSql(t, version));
    } else if (t.since_version < version) {
      for (const auto& c : t.columns) {
        if (c.since_version == version) {
          out.push_back("ALTER TABLE " + QuoteIdent(t.name) + " ADD COLUMN " + ColumnDdl(c));
        }
      }
    }
    if (t.since_version <= version) {
      for (const auto& col : IndexedColumns(t, version)) out.push_back(IndexSql(t, col));
    }
  }
  for (const auto& step : registry.extra_steps()) {
    if (step.version == version) out.push_back(step.sql);
  }
  return out;
}

}  // namespace fieldbook
