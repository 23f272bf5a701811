// Privacy commands: erasing a customer (PIPL right to deletion) and the profile's
// encryption key.
#include <cstdlib>
#include <iostream>

#include "cli.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/core/encryption.h"
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

// Re-encrypts every sensitive value under the key in --new-key-file, in one transaction.
// The current key comes from --key-file (or FIELDBOOK_KEY_FILE); a plain profile is
// encrypted for the first time.
Status RunKeyRotate(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string path, RequiredValue(ctx, "new-key-file"));
  FB_ASSIGN_OR_RETURN(std::string next, ReadKeyFile(path));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  if (store->cipher()) {
    FB_RETURN_IF_ERROR(RotateKey(*store, next, SyncedTables(*store), sync::Uncaptured(*store)));
  } else {
    FB_RETURN_IF_ERROR(UnlockStore(*store, next, SyncedTables(*store), sync::Uncaptured(*store)));
  }
  if (ctx.args.Has("json")) {
    ctx.out << R"({"encrypted":true})" << "\n";
  } else {
    ctx.out << "sensitive values of " << ctx.db << " are now encrypted under the new key\n";
  }
  return Status::Ok();
}

Status RunKeyStatus(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(bool encrypted, IsEncrypted(*store));
  if (ctx.args.Has("json")) {
    ctx.out << R"({"encrypted":)" << (encrypted ? "true" : "false") << "}\n";
  } else {
    ctx.out << (encrypted ? "encrypted at rest (AES-256-GCM)" : "not encrypted") << "\n";
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<std::string>> ProfileKey(const Context& ctx) {
  std::string path = ctx.key_file;
  if (path.empty()) {
    const char* env = std::getenv("FIELDBOOK_KEY_FILE");
    if (env && *env) path = env;
  }
  if (path.empty()) return std::optional<std::string>();
  FB_ASSIGN_OR_RETURN(std::string key, ReadKeyFile(path));
  return std::optional<std::string>(std::move(key));
}

void AddPrivacyCommands(CommandTable& t) {
  t.push_back({"customer erase", "customer erase CUSTOMER_ID [--json]", {}, {"json"}, RunCustomerErase});
  t.push_back({"key rotate", "[--key-file CURRENT] key rotate --new-key-file FILE [--json]", {"new-key-file"}, {"json"},
               RunKeyRotate});
  t.push_back({"key status", "[--key-file FILE] key status [--json]", {}, {"json"}, RunKeyStatus});
}

}  // namespace fieldbook::cli
