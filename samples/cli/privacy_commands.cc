// Privacy commands: erasing a customer (PIPL right to deletion).
#include <iostream>

#include "cli.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/sync/erasure.h"
#include "profile.h"

namespace fieldbook::cli {
namespace {

Status RunCustomerErase(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(WriteContext wc, archive.Context());
  FB_RETURN_IF_ERROR(sync::EraseRoot(*store, {"customers", id, wc.agent, wc.now_ms}));
  if (ctx.args.Has("json")) {
    ctx.out << R"({"erased":")" << id << "\"}\n";
  } else {
    ctx.out << "erased customer " << id << " (its values are gone here; the next sync erases it everywhere)\n";
  }
  return Status::Ok();
}

}  // namespace

void AddPrivacyCommands(CommandTable& t) {
  t.push_back({"customer erase", "customer erase CUSTOMER_ID [--json]", {}, {"json"}, RunCustomerErase});
}

}  // namespace fieldbook::cli
