// Change capture: the device-side bookkeeping that lets every local write reach the
// server and every remote write be applied without being sent back.
//
// Tables (created by AttachSync, component "sync"):
//   fb_sync_state  one row: site id, last HLC, local write counter, `applying` flag,
//                  server cursor and epoch, the push batch in flight, clock correction,
//                  the number of the last request sent (a response is applied only if
//                  it answers that request), and the highest stamps received from the
//                  server and acknowledged by it (a clock correction never goes below).
//   fb_rows        per synced row: root id, the version of its creation (or deletion),
//                  tombstone flag, and whether it still has to be pushed.
//   fb_cells       per cell changed after creation: version, the cursor the writer had
//                  pulled when it first diverged (`seen`), and for text_merge columns the
//                  base text the edit started from. A cell without an entry has its row's
//                  version.
//   fb_stash       rows pulled before their parent row arrived.
//   fb_evictions   roots the server moved out of this device's scope, evicted once none
//                  of their writes is still waiting to be pushed.
//
// Invariants:
//  1. Triggers generated from the registry record every INSERT, UPDATE and DELETE on a
//     synced table made by any connection, unless fb_sync_state.applying = 1 (set only
//     inside the transaction that applies pulled changes, so no other connection sees it).
//  2. A pending item (pending = 1) has local_seq > the batch boundary of every push that
//     was acknowledged; an acknowledged push clears exactly the items it carried.
//  3. Immutable columns, once set, and server-only columns cannot be written locally:
//     guard triggers abort the statement with a message naming the column.
//  4. An id once deleted is never inserted again (the insert is refused).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"
#include "fieldbook/sync/hlc.h"

namespace fieldbook::sync {

// Declaration of the synced `conflicts` table (see conflicts.h).
const TableSpec& ConflictsTable();

// Every table that syncs in this store: the registry's tables, then conflicts and erasures.
std::vector<const TableSpec*> SyncedTables(const Store& store);
const TableSpec* FindSyncedTable(const Store& store, std::string_view name);

// Creates the sync tables and (re)generates the capture triggers when the registry has
// changed. Idempotent; call after Store::Open on every open.
Status AttachSync(Store& store);

struct SyncState {
  std::string site;
  Hlc hlc = 0;
  int64_t local_seq = 0;
  int64_t cursor = 0;
  std::string epoch;            // the server's identity when the cursor was taken
  std::string batch_id;         // push in flight, empty when none
  int64_t batch_seq = 0;        // items with local_seq <= batch_seq belong to it
  int64_t skew_ms = 0;          // correction added to the wall clock
  std::optional<int64_t> fixed_now;  // tests: a wall clock that does not move by itself
};

Result<SyncState> LoadSyncState(Store& store);
// Deterministic tests drive the wall clock of a device explicitly.
Status SetFixedNow(Store& store, std::optional<int64_t> now_ms);
// Number of rows with changes not yet acknowledged by the server.
Result<int64_t> PendingRowCount(Store& store);
// The capture triggers that run on an insert into `table` and do nothing while pulled
// rows are applied (the applying flag is set and a deleted id is never inserted), so the
// applier may insert with triggers off (bulk_insert.h).
std::vector<std::string> InsertTriggersQuietWhileApplying(const TableSpec& table);
// Whether any change waits to be acknowledged (PendingRowCount() > 0, without counting).
Result<bool> AnyPending(Store& store);

// SQL expression of "now" in ms as the triggers see it (wall clock or fixed, plus skew).
std::string NowMsSql();

}  // namespace fieldbook::sync
