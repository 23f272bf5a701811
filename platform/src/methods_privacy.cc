// Privacy methods: erasing a customer (PIPL right to deletion).
#include "fieldbook/sync/erasure.h"
#include "methods.h"

namespace fieldbook::platform {
namespace {

// {"id": CUSTOMER_ID} -> {"id": CUSTOMER_ID}; the erasure reaches the server and every
// other device with the next sync.
Result<std::string> CustomerErase(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
  FB_ASSIGN_OR_RETURN(WriteContext ctx, c.archive.Context());
  FB_RETURN_IF_ERROR(sync::EraseRoot(c.store, {"customers", id, ctx.agent, ctx.now_ms}));
  return IdJson(id);
}

}  // namespace

void AddPrivacyMethods(MethodTableMap& t) { t.emplace("customer.erase", CustomerErase); }

}  // namespace fieldbook::platform
