// Sync methods that work on the local store alone: reviewing and resolving conflicts.
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

}  // namespace

void AddSyncMethods(MethodTableMap& t) {
  t.emplace("conflicts.list", ConflictsList);
  t.emplace("conflicts.resolve", ConflictsResolve);
}

}  // namespace fieldbook::platform
