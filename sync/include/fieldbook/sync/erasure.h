// Erasure (PIPL right to deletion): a stronger tombstone for a whole root (a customer with
// its archive). An erasure wipes every value of the root on every device and on the
// server — rows, conflict records, stashed rows, three-way merge bases — and beats every
// concurrent edit: writes that reach the server afterwards are discarded, never kept as
// conflict records, so an erased customer never comes back.
//
// An erasure is itself a synced row of the `erasures` table: its id is the erased root's
// id, and it holds no personal data (the root's table, when and by whom). It travels like
// any row, so it reaches every device in the root's scope, and it stays forever so a late
// write can be recognised and dropped.
//
// Invariants:
//  1. Once a device holds an erasure row for a root, it holds no row of that root in any
//     other synced table, no fb_cells, fb_stash or merge base of those rows, and no
//     pending change for them: EraseRoot and the pull that delivers the erasure wipe them
//     in the transaction that inserts the erasure row.
//  2. An erasure row is never updated or deleted (guard triggers refuse it locally; the
//     server refuses it on the wire).
//  3. The wipe runs with PRAGMA secure_delete on and rebuilds full-text indexes, so the
//     values do not linger in freed pages or index segments.
#pragma once

#include <string>
#include <vector>

#include "fieldbook/core/encryption.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook::sync {

// Declaration of the synced `erasures` table.
const TableSpec& ErasuresTable();

// Creates the erasures table and its guard triggers (sync schema version 2).
Status CreateErasureTables(Store& store);

struct EraseRequest {
  std::string table;  // a table whose rows are their own root (customers)
  std::string id;
  std::string erased_by;  // the agent asking
  int64_t now_ms = 0;
};

// Erases a root on this device and records the erasure for the next sync, in one
// transaction. kNotFound when the row is unknown here; kInvalidArgument when the table's
// rows are not roots; an already erased root is kNotFound too (nothing is left of it).
Status EraseRoot(Store& store, const EraseRequest& request);

// Removes every trace of `root` on this device except its erasure row. Runs inside the
// caller's transaction with capture suspended (applying = 1) by the caller.
Status WipeRoot(Store& store, const std::string& root, const std::vector<const TableSpec*>& tables);

// Runs a body with change capture suspended, for rewrites that change no value (key
// rotation re-encrypts values; nothing must be pushed for it).
UncapturedRunner Uncaptured(Store& store);

// Ids of the roots this device knows to be erased.
Result<std::vector<std::string>> ErasedRoots(Store& store);

}  // namespace fieldbook::sync
