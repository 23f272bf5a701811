#include "profile.h"

#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/erasure.h"

namespace fieldbook::cli {

Result<std::unique_ptr<Store>> OpenProfile(const Context& ctx, bool create) {
  StoreOptions options;
  options.create_if_missing = create;
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(ctx.db, options));
  FB_RETURN_IF_ERROR(sync::AttachSync(*store));
  FB_ASSIGN_OR_RETURN(std::optional<std::string> key, ProfileKey(ctx));
  FB_RETURN_IF_ERROR(UnlockStore(*store, key, sync::SyncedTables(*store), sync::Uncaptured(*store)));
  return store;
}

std::vector<const TableSpec*> SyncedTables(const Store& store) { return sync::SyncedTables(store); }

}  // namespace fieldbook::cli
