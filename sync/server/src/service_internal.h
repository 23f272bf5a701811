// Pieces of the sync service shared by its facets (push merge, pull, admin).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/server/server_store.h"
#include "fieldbook/server/sync_service.h"

namespace fieldbook::server {

// The server writes its own versions (merges, conflict records) under this site.
inline constexpr const char* kServerSite = "server";

// Moves a root to another owner/team: records the scope change and re-sends every row of
// the root so the new owner's devices receive it whole.
Status MoveRoot(ServerSession& session, const std::string& tenant, const std::string& root_id,
                const RootInfo& before, const RootInfo& after);

// JSON text of one cell value (for conflict records).
std::string ValueJson(const Value& v);

// The spec of synced table `name` among `tables` (ServiceConfig::tables), or nullptr.
const TableSpec* FindTable(const std::vector<const TableSpec*>& tables, std::string_view name);

// The blobs a stored row's cell of blob-reference column `column` names (none when the
// cell is absent or not text).
std::vector<std::string> BlobRefsOfCell(const StoredRow& row, const ColumnSpec& column);

}  // namespace fieldbook::server
