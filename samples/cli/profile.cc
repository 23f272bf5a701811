#include "profile.h"

namespace fieldbook::cli {

Result<std::unique_ptr<Store>> OpenProfile(const Context& ctx, bool create) {
  StoreOptions options;
  options.create_if_missing = create;
  return Store::Open(ctx.db, options);
}

std::vector<const TableSpec*> SyncedTables(const Store& store) {
  std::vector<const TableSpec*> out;
  for (const auto& t : store.registry().tables()) out.push_back(&t);
  return out;
}

}  // namespace fieldbook::cli
