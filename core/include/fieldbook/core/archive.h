// Archive: the agent's book of business as the CLI and the C ABI use it. JSON text in and
// out; each call is one transaction, so a failed call leaves the store unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fieldbook/core/records.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

struct Profile {
  std::string agent;
  std::string team;
};

struct ListQuery {
  std::string table = "customers";
  std::string customer_id;  // child tables: rows of this customer only
  std::string search;       // customers: substring of name, phone or notes (any script)
  std::vector<std::pair<std::string, Value>> equals;  // column = value filters
  std::string due_before;   // tasks: due_date <= this date
  std::string sort;         // customers: "name" = Chinese (pinyin) order; empty = by name bytes
  int limit = 0;            // 0 = all
  int offset = 0;
};

struct ImportReport {
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t lines = 0;
};

// Called with bytes consumed and total bytes (0 when unknown).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// Brings the customers' full-text index (names, phones, notes) up to date. Writes only
// mark customers stale (a pull of thousands of customers does not trigram-index their
// notes one by one); a search calls this before it reads the index, so one search after
// a large pull or import pays for indexing what arrived, once.
Status RefreshSearchIndex(Store& store);

class Archive {
 public:
  explicit Archive(Store& store);

  // Records the agent (and team) this profile belongs to; refuses to re-initialise a
  // profile for a different agent.
  static Status Init(Store& store, std::string_view agent, std::string_view team);
  static Result<Profile> LoadProfile(Store& store);
  Result<WriteContext> Context();

  // Adds a row to any archive table. For child tables customer_id (when not empty) sets
  // the parent. Policies may carry "roles" and, for group policies, "members" arrays that
  // are added in the same transaction. Returns the new id.
  Result<std::string> Add(std::string_view table, std::string_view json, std::string_view customer_id = {});
  Status Set(std::string_view table, std::string_view id, std::string_view json);
  Status Remove(std::string_view table, std::string_view id);
  Result<std::string> Show(std::string_view table, std::string_view id);
  Result<std::string> List(const ListQuery& query);
  // The customer with every child row, grouped by table.
  Result<std::string> CustomerArchive(std::string_view customer_id);
  Status CompleteTask(std::string_view task_id);

  // Imports customers, one JSON object a line, in one transaction: a bad line is reported
  // with its number and nothing of the import is kept. Lines with an external_ref (or a
  // foreign "id") already in the store update that customer.
  Result<ImportReport> ImportJsonl(std::istream& in, int64_t total_bytes, const ProgressFn& progress);

  Records& records() { return records_; }
  Store& store() { return store_; }

 private:
  Result<const TableSpec*> ArchiveTable(std::string_view name) const;
  Result<std::string> AddInTxn(const TableSpec& table, const rapidjson::Value& obj, std::string_view customer_id,
                               const WriteContext& ctx);

  Store& store_;
  Records records_;
};

// Canonical export: {"table": [rows sorted by id, keys sorted], ...} for the given tables,
// table names sorted. Devices that saw the same changes produce identical bytes. The access
// audit (access_audit) is left out: reading adds to it.
Result<std::string> ExportJson(Store& store, const std::vector<const TableSpec*>& tables);

}  // namespace fieldbook
