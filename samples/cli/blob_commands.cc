// Blob commands: attachments named by their SHA-256 (docs/blobs.md).
#include <iostream>

#include "cli.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/sync/blobs.h"
#include "profile.h"
#if FIELDBOOK_WITH_CPPREST
#include "fieldbook/sync/cpprest_transport.h"
#endif

namespace fieldbook::cli {
namespace {

Status RunBlobPut(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string file, Positional(ctx, 0, "FILE"));
  FB_ASSIGN_OR_RETURN(std::string bytes, sync::ReadFileBytes(file, "FILE"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(std::string sha, sync::PutLocalBlob(*store, bytes));
  if (ctx.args.Has("json")) {
    ctx.out << R"({"sha256":")" << sha << R"(","size":)" << bytes.size() << "}\n";
  } else {
    ctx.out << sha << "\n";
  }
  return Status::Ok();
}

Status RunBlobGet(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string sha, Positional(ctx, 0, "SHA256"));
  FB_ASSIGN_OR_RETURN(std::string out, RequiredValue(ctx, "out"));
  if (!IsSha256Hex(sha)) return Usage("SHA256 must be 64 lower-case hex digits, got \"" + sha + "\"");
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  auto url = ctx.args.Value("server");
  auto token = ctx.args.Value("token");
  auto local = sync::GetLocalBlob(*store, sha);
  // A damaged local copy is an error only when there is no server to fetch it from again.
  if (!local.ok() && (local.status().code() != ErrorCode::kHashMismatch || !url || !token)) return local.status();
  std::string bytes;
  const char* source = "local";
  if (local.ok() && *local) {
    bytes = std::move(**local);
  } else {
    if (!url || !token) {
      return Status(ErrorCode::kNotFound, "blob " + sha + " is not on this device; pass --server URL --token TOKEN to fetch it");
    }
#if FIELDBOOK_WITH_CPPREST
    FB_ASSIGN_OR_RETURN(std::unique_ptr<sync::Transport> transport, sync::MakeCpprestTransport(*url));
    sync::BlobTransferOptions options;
    options.token = *token;
    FB_ASSIGN_OR_RETURN(bytes, sync::FetchBlob(*store, *transport, sha, options));
    source = "server";
#else
    return Status(ErrorCode::kUnavailable,
                  "this fieldbook was built without an HTTP transport (FIELDBOOK_WITH_CPPREST=OFF)");
#endif
  }
  FB_RETURN_IF_ERROR(sync::WriteFileBytes(out, bytes, "out"));
  if (ctx.args.Has("json")) {
    ctx.out << R"({"sha256":")" << sha << R"(","size":)" << bytes.size() << R"(,"source":")" << source << "\"}\n";
  } else {
    ctx.out << "wrote " << bytes.size() << " bytes to " << out << " (" << source << ")\n";
  }
  return Status::Ok();
}

}  // namespace

void AddBlobCommands(CommandTable& t) {
  t.push_back({"blob put", "blob put FILE [--json]", {}, {"json"}, RunBlobPut});
  t.push_back({"blob get", "blob get SHA256 --out FILE [--server URL --token TOKEN] [--json]",
               {"out", "server", "token"}, {"json"}, RunBlobGet});
}

}  // namespace fieldbook::cli
