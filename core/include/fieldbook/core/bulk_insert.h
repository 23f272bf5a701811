// Inserting many rows of one table without a trigger call per row.
//
// SQLite runs every row trigger as a subprogram, once per row. On the customers table
// (43 columns, four insert triggers) that was two thirds of the time the sync engine took
// to write a pulled page. A writer of many rows instead:
//   1. asks BulkInsertPlan::For whether every main-schema trigger that fires on an insert
//      into the table is either one the registry gives a bulk form for, or one the writer
//      names as doing nothing for its inserts (the sync engine's capture triggers while it
//      applies pulled rows);
//   2. inserts its rows while a TriggersOff is alive: statements prepared and run then
//      fire no trigger of the main schema (TEMP triggers still fire, SQLite >= 3.35);
//   3. calls the plan's Finish with the rowids it inserted, which runs the bulk forms and
//      leaves exactly what the triggers would have.
// Turning triggers off or on makes SQLite re-prepare the connection's statements at their
// next use; a writer pays that once per batch of rows, not per row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

class BulkInsertPlan {
 public:
  // The plan for `table`, or nullopt when one of its insert triggers is neither the
  // registry's (InsertTriggerBulkForm) nor in `no_ops`, or cannot be read.
  static Result<std::optional<BulkInsertPlan>> For(Store& store, std::string_view table,
                                                   const std::vector<std::string>& no_ops);
  // Does what the table's insert triggers would have done for the rows with rowids in
  // [first, last] (nothing when first > last).
  Status Finish(Store& store, int64_t first, int64_t last) const;

 private:
  std::vector<std::string> bulk_;  // one statement per trigger present on the table
};

// While alive, the store's statements fire no trigger of the main schema.
class TriggersOff {
 public:
  static Result<TriggersOff> Begin(Store& store);
  TriggersOff(TriggersOff&& other) noexcept;
  TriggersOff& operator=(TriggersOff&&) = delete;
  TriggersOff(const TriggersOff&) = delete;
  ~TriggersOff();
  // Turns them back on (also done by the destructor).
  Status End();

 private:
  explicit TriggersOff(Store* store) : store_(store) {}
  Store* store_;
};

// Whether the CREATE TRIGGER statement `sql` fires on INSERT; true when it cannot tell.
bool TriggerMayFireOnInsert(std::string_view sql);

}  // namespace fieldbook
