// Bulk import of customers from JSON Lines.
//
// Besides Fieldbook's own keys (the customers columns), lines in the common CRM export
// layout are understood: id, phone, birthday, tier (platinum/gold/silver/bronze), needs
// (an array of product interests), income (whole currency units), agent_id. See
// docs/import.md for the mapping.
//
// New rows go through a temporary staging table and reach `customers` in large
// INSERT ... SELECT statements: the full-text index then updates once per chunk rather
// than once per row, which is what makes 100k customers import in seconds.
#include <cmath>
#include <unordered_map>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/ids.h"

namespace fieldbook {
namespace {

constexpr int kChunkRows = 4096;

const char* TierOf(std::string_view tier) {
  if (tier == "platinum") return "high";
  if (tier == "gold") return "potential";
  if (tier == "silver") return "general";
  if (tier == "bronze") return "low";
  return nullptr;
}

// Rewrites a foreign-layout line into Fieldbook's keys, in place.
Status MapForeignKeys(rapidjson::Document& doc) {
  auto& a = doc.GetAllocator();
  auto rename = [&](const char* from, const char* to) {
    if (!doc.HasMember(from) || doc.HasMember(to)) return;
    rapidjson::Value v;
    v.Swap(doc[from]);
    doc.RemoveMember(from);
    doc.AddMember(rapidjson::Value(to, a), v, a);
  };
  if (doc.HasMember("id") && doc["id"].IsString() && !IsUuid(doc["id"].GetString())) rename("id", "external_ref");
  if (doc.HasMember("phone") && !doc.HasMember("phones")) {
    rapidjson::Value phones(rapidjson::kArrayType);
    if (!doc["phone"].IsNull()) phones.PushBack(doc["phone"].Move(), a);
    doc.RemoveMember("phone");
    doc.AddMember("phones", phones, a);
  }
  rename("birthday", "birth_date");
  rename("agent_id", "legacy_owner");
  if (doc.HasMember("tier") && doc["tier"].IsString()) {
    const char* tier = TierOf(doc["tier"].GetString());
    if (tier) doc["tier"].SetString(tier, a);
    rename("tier", "value_tier");
  }
  if (doc.HasMember("needs")) rename("needs", doc["needs"].IsArray() ? "interests" : "needs_segment");
  if (doc.HasMember("income") && !doc.HasMember("annual_income")) {
    rapidjson::Value& v = doc["income"];
    if (!v.IsNumber()) return Status(ErrorCode::kInvalidField, "expected a number", "income");
    const double fen = std::round(v.GetDouble() * 100.0);
    if (!(fen >= 0 && fen < 9.0e15)) return Status(ErrorCode::kInvalidField, "out of range", "income");
    doc.RemoveMember("income");
    doc.AddMember("annual_income", rapidjson::Value(static_cast<int64_t>(fen)), a);
  }
  return Status::Ok();
}

}  // namespace

Result<ImportReport> Archive::ImportJsonl(std::istream& in, int64_t total_bytes, const ProgressFn& progress) {
  FB_ASSIGN_OR_RETURN(WriteContext ctx, Context());
  const TableSpec& t = records_.Table("customers");
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_RETURN_IF_ERROR(store_.Exec("DROP TABLE IF EXISTS temp.fb_import_stage"));
  FB_RETURN_IF_ERROR(store_.Exec("CREATE TEMP TABLE fb_import_stage AS SELECT * FROM main.customers WHERE 0"));
  std::string insert = "INSERT INTO temp.fb_import_stage (id";
  std::string params = "?1";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    insert += ", " + QuoteIdent(t.columns[i].name);
    params += ", ?" + std::to_string(i + 2);
  }
  insert += ") VALUES (" + params + ")";
  std::string columns = "id";
  for (const auto& c : t.columns) columns += ", " + QuoteIdent(c.name);
  const std::string flush_sql = "INSERT INTO main.customers (" + columns + ") SELECT " + columns +
                                " FROM temp.fb_import_stage ORDER BY rowid; DELETE FROM temp.fb_import_stage";
  FB_ASSIGN_OR_RETURN(Statement stage, store_.Prepare(insert));
  FB_ASSIGN_OR_RETURN(Statement find_ref, store_.Prepare("SELECT id FROM customers WHERE external_ref = ?1 LIMIT 1"));

  ImportReport report;
  std::unordered_map<std::string, int64_t> refs_seen, ids_seen;  // -> line number
  int staged = 0;
  int64_t bytes = 0;
  std::string line;
  rapidjson::Document doc;
  auto fail = [&](const Status& s) {
    return Status(s.code(), "line " + std::to_string(report.lines) + ": " + s.message(),
                  s.field().empty() ? "line " + std::to_string(report.lines) : s.field());
  };
  while (std::getline(in, line)) {
    ++report.lines;
    bytes += static_cast<int64_t>(line.size()) + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto parsed = ParseJsonObject(line, "line " + std::to_string(report.lines));
    if (!parsed.ok()) return parsed.status();
    doc = std::move(parsed).value();
    if (Status s = MapForeignKeys(doc); !s.ok()) return fail(s);
    auto row = records_.FromJson(t, doc);
    if (!row.ok()) return fail(row.status());

    std::optional<std::string> existing;
    if (auto ref = row->Text("external_ref")) {
      auto [it, fresh] = refs_seen.emplace(*ref, report.lines);
      if (!fresh) {
        return fail(Status(ErrorCode::kInvalidField,
                           "external_ref " + *ref + " already appears on line " + std::to_string(it->second),
                           "external_ref"));
      }
      find_ref.Bind(1, *ref);
      auto found = find_ref.Step();
      if (!found.ok()) return found.status();
      if (*found) existing = find_ref.String(0);
      find_ref.Reset();
    } else if (!row->id.empty()) {
      // Staged rows are not in customers yet, so a repeat would only fail at the flush.
      auto [it, fresh] = ids_seen.emplace(row->id, report.lines);
      if (!fresh) {
        return fail(Status(ErrorCode::kInvalidField,
                           "id " + row->id + " already appears on line " + std::to_string(it->second), "id"));
      }
      auto taken = records_.Exists("customers", row->id);
      if (!taken.ok()) return taken.status();
      if (*taken) existing = row->id;
    }
    if (existing) {
      for (const char* fixed : {"kind", "created_at"}) row->present[static_cast<size_t>(t.IndexOf(fixed))] = 0;
      if (Status s = records_.Update("customers", *existing, *row, ctx); !s.ok()) return fail(s);
      ++report.updated;
    } else {
      // A foreign created_at is kept; updated_at is the time of this import.
      row->SetDefault("created_at", Value{ctx.now_ms});
      row->Set("updated_at", Value{ctx.now_ms});
      if (Status s = records_.Check(*row, nullptr, ctx, true); !s.ok()) return fail(s);
      stage.Bind(1, row->id.empty() ? store_.NewId() : row->id);
      for (size_t i = 0; i < t.columns.size(); ++i) stage.Bind(static_cast<int>(i) + 2, row->values[i]);
      FB_RETURN_IF_ERROR(stage.Run());
      stage.Reset();
      ++report.inserted;
      if (++staged == kChunkRows) {
        FB_RETURN_IF_ERROR(store_.Exec(flush_sql));
        staged = 0;
      }
    }
    if (progress && report.lines % 1000 == 0) progress(bytes, total_bytes);
  }
  if (in.bad()) return Status(ErrorCode::kIoError, "reading the import file failed after line " + std::to_string(report.lines));
  if (staged > 0) FB_RETURN_IF_ERROR(store_.Exec(flush_sql));
  FB_RETURN_IF_ERROR(store_.Exec("DROP TABLE temp.fb_import_stage"));
  FB_RETURN_IF_ERROR(txn.Commit());
  if (progress) progress(bytes, total_bytes);
  return report;
}

}  // namespace fieldbook
