// Bulk import of customers from JSON Lines.
//
// Besides Fieldbook's own keys (the customers columns), lines in the common CRM export
// layout are understood: id, phone, birthday, tier (platinum/gold/silver/bronze), needs
// (an array of product interests), income (whole currency units), agent_id. See
// docs/import.md for the mapping.
//
// Guarantees:
//  1. The whole import is one transaction: a bad line, a full disk or a failing input
//     leaves the store exactly as it was, and the error names the line.
//  2. Every line goes through the same validation as `customer add`.
//  3. A line whose external_ref (or Fieldbook id) is already in the store updates that
//     customer; the same customer twice in one file is refused.
//
// Why it is fast (bench/import_bench.cc measures it): new rows go to a temporary staging
// table and reach `customers` in large INSERT ... SELECT statements. FTS5 flushes its
// pending terms at the end of every statement, so row-by-row INSERTs would write one tiny
// index segment per row; this way it writes one per chunk. While the import runs, the
// index keeps a whole chunk's terms in memory and leaves merging segments to later
// writes, and the page cache is large enough that index pages are not written out and
// read back mid-import (all three settings are restored before commit). Lines are parsed
// in place into a reused document, and only the values a line carries are bound,
// without copying them.
#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/encryption.h"
#include "fieldbook/core/ids.h"
#include "import_reader.h"

namespace fieldbook {
namespace {

constexpr int kChunkRows = 8192;
// While importing, the page cache may grow this large (KiB; 100k customers take about
// 80 MB on disk). The full-text index is not written: new customers are only marked
// stale, and the first search indexes them (RefreshSearchIndex).
constexpr int64_t kImportCacheKiB = 64 << 10;
constexpr int kIdsPerDraw = 256;

// One import run inside the caller's transaction.
class CustomerImport {
 public:
  CustomerImport(Store& store, Records& records, const WriteContext& ctx)
      : store_(store), records_(records), ctx_(ctx), table_(records.Table("customers")) {}
  ~CustomerImport() { (void)RestoreCache(); }

  Status Begin();
  // Applies the rules to the row of line `number` and stages it, or updates the customer
  // it names.
  Status Add(RowValues row, int64_t number, ImportReport& report);
  bool ChunkFull() const { return staged_ >= kChunkRows; }
  // Moves the staged rows into customers.
  Status Flush();
  Status Finish();

 private:
  Result<std::optional<std::string>> ExistingCustomer(const RowValues& row, int64_t number);
  Status Stage(const RowValues& row);
  Result<std::optional<int64_t>> QueryInt(const std::string& sql, std::string_view param = {});
  // The page cache size is a connection setting, outside the transaction: it is put back
  // on every way out.
  Status RestoreCache();
  std::string NewId();

  Store& store_;
  Records& records_;
  const WriteContext& ctx_;
  const TableSpec& table_;
  Statement stage_, move_, clear_, find_ref_;
  bool store_has_refs_ = false;
  std::optional<int64_t> cache_size_;                             // to restore
  std::unordered_map<std::string, int64_t> refs_seen_, ids_seen_;  // -> line number
  int staged_ = 0;
  int64_t first_staged_line_ = 0, last_staged_line_ = 0;
  uint8_t random_[16 * kIdsPerDraw];
  int ids_left_ = 0;
};

// The integer in the first column of the first row `sql` returns, if any.
Result<std::optional<int64_t>> CustomerImport::QueryInt(const std::string& sql, std::string_view param) {
  FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(sql));
  if (!param.empty()) st.Bind(1, param);
  FB_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<int64_t>();
  return st.OptInt(0);
}

Status CustomerImport::Begin() {
  FB_ASSIGN_OR_RETURN(cache_size_, QueryInt("PRAGMA cache_size"));
  FB_RETURN_IF_ERROR(store_.Exec("PRAGMA cache_size = -" + std::to_string(kImportCacheKiB)));
  FB_RETURN_IF_ERROR(store_.Exec("DROP TABLE IF EXISTS temp.fb_import_stage"));
  FB_RETURN_IF_ERROR(store_.Exec("CREATE TEMP TABLE fb_import_stage AS SELECT * FROM main.customers WHERE 0"));
  std::string columns = "id", params = "?1";
  for (size_t i = 0; i < table_.columns.size(); ++i) {
    columns += ", " + QuoteIdent(table_.columns[i].name);
    params += ", ?" + std::to_string(i + 2);
  }
  FB_ASSIGN_OR_RETURN(stage_, store_.Prepare("INSERT INTO temp.fb_import_stage (" + columns + ") VALUES (" + params + ")"));
  FB_ASSIGN_OR_RETURN(move_, store_.Prepare("INSERT INTO main.customers (" + columns + ") SELECT " + columns +
                                            " FROM temp.fb_import_stage ORDER BY rowid"));
  FB_ASSIGN_OR_RETURN(clear_, store_.Prepare("DELETE FROM temp.fb_import_stage"));
  FB_ASSIGN_OR_RETURN(find_ref_, store_.Prepare("SELECT id FROM customers WHERE external_ref = ?1 LIMIT 1"));
  // Only customers from before this import can match a line: repeats within the file are
  // refused. A store without any external_ref needs no lookups at all.
  FB_ASSIGN_OR_RETURN(std::optional<int64_t> any_ref,
                      QueryInt("SELECT EXISTS (SELECT 1 FROM customers WHERE external_ref IS NOT NULL)"));
  store_has_refs_ = any_ref.value_or(0) != 0;
  return Status::Ok();
}

Status CustomerImport::Add(RowValues row, int64_t number, ImportReport& report) {
  FB_ASSIGN_OR_RETURN(std::optional<std::string> existing, ExistingCustomer(row, number));
  if (existing) {
    for (const char* fixed : {"kind", "created_at"}) row.present[static_cast<size_t>(table_.IndexOf(fixed))] = 0;
    FB_RETURN_IF_ERROR(records_.Update("customers", *existing, row, ctx_));
    ++report.updated;
    return Status::Ok();
  }
  // A foreign created_at is kept; updated_at is the time of this import.
  row.SetDefault("created_at", Value{ctx_.now_ms});
  row.Set("updated_at", Value{ctx_.now_ms});
  FB_RETURN_IF_ERROR(records_.Check(row, nullptr, ctx_, true));
  if (row.id.empty()) row.id = NewId();
  FB_RETURN_IF_ERROR(Stage(row));
  ++report.inserted;
  if (staged_++ == 0) first_staged_line_ = number;
  last_staged_line_ = number;
  return Status::Ok();
}

Result<std::optional<std::string>> CustomerImport::ExistingCustomer(const RowValues& row, int64_t number) {
  std::optional<std::string> found;
  // The repeated value itself is not echoed: it may be personal data.
  auto repeated = [&](const char* field, const std::string&, int64_t first) {
    return Status(ErrorCode::kInvalidField,
                  std::string("the same ") + field + " already appears on line " + std::to_string(first), field);
  };
  if (auto ref = row.Text("external_ref")) {
    auto [it, fresh] = refs_seen_.emplace(*ref, number);
    if (!fresh) return repeated("external_ref", *ref, it->second);
    if (store_has_refs_) {
      find_ref_.Bind(1, *ref);
      FB_ASSIGN_OR_RETURN(bool hit, find_ref_.Step());
      if (hit) found = find_ref_.String(0);
      find_ref_.Reset();
    }
  }
  if (!row.id.empty()) {
    auto [it, fresh] = ids_seen_.emplace(row.id, number);
    if (!fresh) return repeated("id", row.id, it->second);
    if (found && *found != row.id) {
      return Status(ErrorCode::kInvalidField, "external_ref " + *row.Text("external_ref") + " belongs to customer " +
                                                  *found + ", not to " + row.id, "id");
    }
    if (!found) {
      FB_ASSIGN_OR_RETURN(bool taken, records_.Exists("customers", row.id));
      if (taken) found = row.id;
    }
  }
  return found;
}

Status CustomerImport::Stage(const RowValues& row) {
  // The values outlive the step, so SQLite need not copy them.
  sqlite3_stmt* st = stage_.raw();
  int rc = sqlite3_bind_text64(st, 1, row.id.data(), row.id.size(), SQLITE_STATIC, SQLITE_UTF8);
  for (size_t i = 0; i < row.values.size() && rc == SQLITE_OK; ++i) {
    if (!row.present[i]) continue;
    const int index = static_cast<int>(i) + 2;
    const Value& v = row.values[i];
    if (const int64_t* n = AsInt(v)) {
      rc = sqlite3_bind_int64(st, index, *n);
    } else if (const double* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(st, index, *d);
    } else if (const std::string* s = AsText(v)) {
      if (store_.cipher() && IsEncryptedColumn(table_.columns[i])) {
        FB_ASSIGN_OR_RETURN(Value sealed, SealCell(store_, table_.columns[i], v));
        rc = sqlite3_bind_text64(st, index, AsText(sealed)->data(), AsText(sealed)->size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
      } else {
        rc = sqlite3_bind_text64(st, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
      }
    }
  }
  if (rc != SQLITE_OK) return store_.SqliteError(rc, "staging a customer");
  Status s = stage_.Run();
  stage_.Reset();  // also unbinds, so absent columns stay NULL for the next row
  return s;
}

Status CustomerImport::Flush() {
  if (staged_ == 0) return Status::Ok();
  Status s = move_.Run();
  if (s.ok()) s = clear_.Run();
  if (!s.ok()) {
    return Status(s.code(), "writing the customers of lines " + std::to_string(first_staged_line_) + "-" +
                                std::to_string(last_staged_line_) + ": " + s.message());
  }
  staged_ = 0;
  return Status::Ok();
}

Status CustomerImport::Finish() {
  FB_RETURN_IF_ERROR(Flush());
  FB_RETURN_IF_ERROR(RestoreCache());
  return store_.Exec("DROP TABLE temp.fb_import_stage");
}

Status CustomerImport::RestoreCache() {
  if (!cache_size_) return Status::Ok();
  const int64_t size = *cache_size_;
  cache_size_.reset();
  return store_.Exec("PRAGMA cache_size = " + std::to_string(size));
}

std::string CustomerImport::NewId() {
  if (ids_left_ == 0) {
    store_.env().RandomBytes(random_, sizeof random_);
    ids_left_ = kIdsPerDraw;
  }
  --ids_left_;
  return UuidV7(store_.env().NowMs(), random_ + 16 * ids_left_);
}

}  // namespace

Result<ImportReport> Archive::ImportJsonl(std::istream& in, int64_t total_bytes, const ProgressFn& progress) {
  FB_ASSIGN_OR_RETURN(WriteContext ctx, Context());
  const TableSpec& table = records_.Table("customers");
  ImportReader reader(in, records_, table);
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  auto run = std::make_unique<CustomerImport>(store_, records_, ctx);
  FB_RETURN_IF_ERROR(run->Begin());
  ImportReport report;
  int64_t bytes = 0;
  auto refused = [](const Status& s, int64_t number) {
    const std::string where = "line " + std::to_string(number);
    if (s.message().rfind(where, 0) == 0) return s;  // the parser names the line already
    return Status(s.code(), where + ": " + s.message(), s.field());
  };
  std::vector<ImportLine> batch;
  while (reader.Next(batch)) {
    for (ImportLine& line : batch) {
      report.lines = line.number;
      bytes = line.bytes_end;
      if (!line.status.ok()) return refused(line.status, line.number);
      if (line.row) {
        Status s = run->Add(std::move(*line.row), line.number, report);
        if (!s.ok()) return refused(s, line.number);
        if (run->ChunkFull()) FB_RETURN_IF_ERROR(run->Flush());
      }
      if (progress && line.number % 1000 == 0) progress(bytes, total_bytes);
    }
  }
  FB_RETURN_IF_ERROR(reader.status());
  FB_RETURN_IF_ERROR(run->Finish());
  run.reset();
  FB_RETURN_IF_ERROR(txn.Commit());
  if (progress) progress(bytes, total_bytes);
  return report;
}

}  // namespace fieldbook
