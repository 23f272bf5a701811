// Sync methods that work on the local store alone: reviewing and resolving conflicts,
// putting blobs and reading those already on the device (fieldbook_sync_fetch_blob
// downloads the others).
#include "fieldbook/core/ids.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/conflicts.h"
#include "methods.h"

namespace fieldbook::platform {
namespace {

Result<std::string> ConflictsList(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"all"}));
  FB_ASSIGN_OR_RETURN(bool all, args::OptionalBool(a, "all", false));
  return sync::ListConflictsJson(c.store, all);
}

Result<std::string> ConflictsResolve(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id", "keep", "value"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
  sync::Resolution resolution;
  const bool has_value = a.HasMember("value");
  FB_ASSIGN_OR_RETURN(std::string keep, args::OptionalString(a, "keep"));
  if (has_value == !keep.empty()) {
    return Status(ErrorCode::kInvalidArgument, "give either \"keep\": \"winner\" | \"loser\" or \"value\"", "keep");
  }
  if (has_value) {
    resolution = {sync::Resolution::Keep::kValue, ToJson(a["value"])};
  } else if (keep == "winner") {
    resolution.keep = sync::Resolution::Keep::kWinner;
  } else if (keep == "loser") {
    resolution.keep = sync::Resolution::Keep::kLoser;
  } else {
    return Status(ErrorCode::kInvalidField, "must be \"winner\" or \"loser\" (a new value goes in \"value\")", "keep");
  }
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(c.store));
  FB_ASSIGN_OR_RETURN(std::string row, sync::ResolveConflict(c.store, id, resolution, profile.agent));
  return IdJson(row);
}

std::string BlobJson(const std::string& sha256, size_t size, const char* source) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("sha256");
  w.String(sha256.c_str());
  w.Key("size");
  w.Uint64(size);
  if (source != nullptr) {
    w.Key("source");
    w.String(source);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// {"path": FILE} -> {"sha256", "size"}: the file's bytes become a blob of the device,
// uploaded by the next sync; rows name it by its sha256 (docs/blobs.md).
Result<std::string> BlobPut(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"path"}));
  FB_ASSIGN_OR_RETURN(std::string path, args::RequiredString(a, "path"));
  FB_ASSIGN_OR_RETURN(std::string bytes, sync::ReadFileBytes(path, "path"));
  FB_ASSIGN_OR_RETURN(std::string sha256, sync::PutLocalBlob(c.store, bytes));
  return BlobJson(sha256, bytes.size(), nullptr);
}

// {"sha256": H, "path": FILE} -> {"sha256", "size", "source": "local"}: writes a blob the
// device holds to FILE; not_found when it is not here (fieldbook_sync_fetch_blob gets it).
Result<std::string> BlobGet(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"sha256", "path"}));
  FB_ASSIGN_OR_RETURN(std::string sha256, args::RequiredString(a, "sha256"));
  FB_ASSIGN_OR_RETURN(std::string path, args::RequiredString(a, "path"));
  if (!IsSha256Hex(sha256)) {
    return Status(ErrorCode::kInvalidArgument, "must be 64 lower-case hex digits", "sha256");
  }
  FB_ASSIGN_OR_RETURN(std::optional<std::string> bytes, sync::GetLocalBlob(c.store, sha256));
  if (!bytes) {
    return Status(ErrorCode::kNotFound,
                  "blob " + sha256 + " is not on this device; fieldbook_sync_fetch_blob downloads it", "sha256");
  }
  FB_RETURN_IF_ERROR(sync::WriteFileBytes(path, *bytes, "path"));
  return BlobJson(sha256, bytes->size(), "local");
}

}  // namespace

std::string BlobResultJson(const std::string& sha256, size_t size, const char* source) {
  return BlobJson(sha256, size, source);
}

void AddSyncMethods(MethodTableMap& t) {
  t.emplace("blob.put", BlobPut);
  t.emplace("blob.get", BlobGet);
  t.emplace("conflicts.list", ConflictsList);
  t.emplace("conflicts.resolve", ConflictsResolve);
}

}  // namespace fieldbook::platform
