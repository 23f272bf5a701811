#include "fieldbook/server/restore.h"

#include "fieldbook/core/ids.h"
#include "fieldbook/core/store.h"

namespace fieldbook::server {

Result<std::string> RenewSqliteEpoch(const std::string& path) {
  static const SchemaRegistry kNoTables({});
  StoreOptions options;
  options.create_if_missing = false;
  options.registry = &kNoTables;
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(path, options));
  uint8_t bytes[12];
  store->env().RandomBytes(bytes, sizeof bytes);
  const std::string epoch = HexEncode(bytes, sizeof bytes);
  FB_ASSIGN_OR_RETURN(Statement exists, store->Prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'srv_meta'"));
  FB_ASSIGN_OR_RETURN(bool found, exists.Step());
  exists.Reset();
  if (!found) return Status(ErrorCode::kNotFound, path + " is not a fieldbook-server database");
  FB_ASSIGN_OR_RETURN(Statement update, store->Prepare("UPDATE srv_meta SET value = ?1 WHERE key = 'epoch'"));
  FB_RETURN_IF_ERROR(update.Bind(1, epoch).Run());
  if (store->changes() != 1) return Status(ErrorCode::kNotFound, path + " has no server epoch");
  return epoch;
}

}  // namespace fieldbook::server
