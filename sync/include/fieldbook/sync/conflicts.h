// Reviewing and resolving conflicts. The server writes a row of the synced `conflicts`
// table whenever a write loses to a concurrent write it had not seen; the agent keeps the
// winner, takes the loser back, or types a new value. Resolutions are local writes, so they
// sync like any other edit.
#pragma once

#include <string>
#include <string_view>

#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook::sync {

// JSON array of conflict records (unresolved only unless include_resolved), newest first.
Result<std::string> ListConflictsJson(Store& store, bool include_resolved);

struct Resolution {
  enum class Keep { kWinner, kLoser, kValue };
  Keep keep = Keep::kWinner;
  std::string value_json;  // kValue: the new value as JSON ("\"high\"", "[\"139...\"]", 12)
};

// Parses the CLI's --keep argument: winner, loser, or a value (JSON, or bare text).
Resolution ParseKeep(std::string_view keep);

// Applies a resolution in one transaction. Keeping the loser of a deletion re-creates the
// deleted row under a new id (ids are never reused) and returns that id; otherwise returns
// the conflicted row's id.
Result<std::string> ResolveConflict(Store& store, std::string_view conflict_id, const Resolution& resolution,
                                    std::string_view resolved_by);

}  // namespace fieldbook::sync
