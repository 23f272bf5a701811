// Blob commands: attachments named by their SHA-256 (docs/blobs.md).
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/sync/blobs.h"
#include "profile.h"
#if FIELDBOOK_WITH_CPPREST
#include "fieldbook/sync/cpprest_transport.h"
#endif

namespace fieldbook::cli {
namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kNotFound, "cannot read " + path, "FILE");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status(ErrorCode::kIoError, "error reading " + path, "FILE");
  return bytes;
}

Status WriteWholeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status(ErrorCode::kIoError, "cannot write " + path, "out");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Status(ErrorCode::kIoError, "error writing " + path, "out");
  return Status::Ok();
}

Status RunBlobPut(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string file, Positional(ctx, 0, "FILE"));
  FB_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(file));
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
  FB_RETURN_IF_ERROR(WriteWholeFile(out, bytes));
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
