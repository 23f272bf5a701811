#include "fieldbook/core/schema_registry.h"

#include <algorithm>
#include <cstdio>

namespace fieldbook {

const ColumnSpec* TableSpec::Find(std::string_view column) const {
  const int index = IndexOf(column);
  return index < 0 ? nullptr : &columns[static_cast<size_t>(index)];
}

int TableSpec::IndexOf(std::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    // Called for every key of every row: most names differ in length or first letter.
    const std::string& name = columns[i].name;
    if (name.size() == column.size() && (column.empty() || name[0] == column[0]) && name == column) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

SchemaRegistry::SchemaRegistry(std::vector<TableSpec> tables, std::vector<SchemaStep> extra,
                               std::vector<InsertTriggerBulkForm> bulk_forms)
    : tables_(std::move(tables)), extra_(std::move(extra)), bulk_forms_(std::move(bulk_forms)) {
  // FNV-1a over a canonical description of every declaration.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (const auto& t : tables_) {
    mix(t.name);
    mix(std::to_string(static_cast<int>(t.partition.kind)));
    mix(t.partition.owner_column);
    mix(t.partition.team_column);
    mix(t.partition.root_column);
    mix(t.partition.root_table);
    version_ = std::max(version_, t.since_version);
    for (const auto& c : t.columns) {
      mix(c.name);
      mix(SqlTypeName(c.type));
      mix(MergePolicyName(c.merge));
      mix(c.references);
      version_ = std::max(version_, c.since_version);
    }
  }
  for (const auto& step : extra_) version_ = std::max(version_, step.version);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  fingerprint_ = buf;
}

const TableSpec* SchemaRegistry::Find(std::string_view table) const {
  for (const auto& t : tables_) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

TableBuilder::TableBuilder(std::string name, Partition partition) {
  spec_.name = std::move(name);
  spec_.partition = std::move(partition);
}

TableBuilder& TableBuilder::Since(int version) {
  spec_.since_version = version;
  return *this;
}

ColumnSpec& TableBuilder::Add(std::string name, SqlType type, Format format) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  c.format = format;
  c.since_version = spec_.since_version;
  spec_.columns.push_back(std::move(c));
  return spec_.columns.back();
}

TableBuilder& TableBuilder::Text(std::string name, Format format) {
  Add(std::move(name), SqlType::kText, format);
  return *this;
}

TableBuilder& TableBuilder::Int(std::string name, Format format) {
  Add(std::move(name), SqlType::kInteger, format);
  return *this;
}

TableBuilder& TableBuilder::Real(std::string name, Format format) {
  Add(std::move(name), SqlType::kReal, format);
  return *this;
}

TableBuilder& TableBuilder::Enum(std::string name, std::initializer_list<const char*> values) {
  ColumnSpec& c = Add(std::move(name), SqlType::kText, Format::kEnum);
  for (const char* v : values) c.enum_values.emplace_back(v);
  return *this;
}

TableBuilder& TableBuilder::Ref(std::string name, std::string table) {
  ColumnSpec& c = Add(std::move(name), SqlType::kText, Format::kRef);
  c.references = std::move(table);
  c.merge = MergePolicy::kImmutable;
  c.required = true;
  return *this;
}

TableBuilder& TableBuilder::Required() {
  spec_.columns.back().required = true;
  return *this;
}

TableBuilder& TableBuilder::Merge(MergePolicy policy) {
  spec_.columns.back().merge = policy;
  return *this;
}

TableBuilder& TableBuilder::Personal() {
  spec_.columns.back().sensitivity = Sensitivity::kPersonal;
  return *this;
}

TableBuilder& TableBuilder::Sensitive() {
  spec_.columns.back().sensitivity = Sensitivity::kSensitive;
  return *this;
}

TableBuilder& TableBuilder::MaxLength(size_t n) {
  spec_.columns.back().max_length = n;
  return *this;
}

TableBuilder& TableBuilder::ColumnSince(int version) {
  spec_.columns.back().since_version = version;
  return *this;
}

TableSpec TableBuilder::Build() && { return std::move(spec_); }

Partition OwnedBy(std::string owner_column, std::string team_column) {
  Partition p;
  p.kind = PartitionKind::kSelf;
  p.owner_column = std::move(owner_column);
  p.team_column = std::move(team_column);
  return p;
}

Partition UnderRoot(std::string root_column, std::string root_table) {
  Partition p;
  p.kind = PartitionKind::kRoot;
  p.root_column = std::move(root_column);
  p.root_table = std::move(root_table);
  return p;
}

Partition TeamWide(std::string team_column) {
  Partition p;
  p.kind = PartitionKind::kTeam;
  p.team_column = std::move(team_column);
  return p;
}

Partition TenantWide() {
  Partition p;
  p.kind = PartitionKind::kTenant;
  return p;
}

std::string_view MergePolicyName(MergePolicy p) {
  switch (p) {
    case MergePolicy::kLww: return "lww";
    case MergePolicy::kTextMerge: return "text_merge";
    case MergePolicy::kMax: return "max";
    case MergePolicy::kImmutable: return "immutable";
    case MergePolicy::kServerOnly: return "server_only";
  }
  return "lww";
}

std::string_view SqlTypeName(SqlType t) {
  switch (t) {
    case SqlType::kText: return "TEXT";
    case SqlType::kInteger: return "INTEGER";
    case SqlType::kReal: return "REAL";
  }
  return "TEXT";
}

}  // namespace fieldbook
