// Sync commands: sync with a server, review and resolve conflicts.
#include <iostream>

#include "cli.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/client.h"
#include "fieldbook/sync/conflicts.h"
#include "profile.h"
#if FIELDBOOK_WITH_CPPREST
#include "fieldbook/sync/cpprest_transport.h"
#endif

namespace fieldbook::cli {
namespace {

Status RunSync(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string url, RequiredValue(ctx, "server"));
  FB_ASSIGN_OR_RETURN(std::string token, RequiredValue(ctx, "token"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_RETURN_IF_ERROR(Archive::LoadProfile(*store).status());
#if FIELDBOOK_WITH_CPPREST
  FB_ASSIGN_OR_RETURN(std::unique_ptr<sync::Transport> transport, sync::MakeCpprestTransport(url));
  sync::SyncClient client(*store, *transport);
  sync::SyncOptions options;
  options.token = token;
  const bool tty = StderrIsTty() && !ctx.args.Has("json");
  if (tty) {
    options.progress = [&](const sync::SyncProgress& p) {
      ctx.err << "\rsync: pushed " << p.pushed << ", pulled " << p.pulled << (p.more ? " ..." : "") << std::flush;
    };
  }
  auto report = client.Sync(options);
  if (tty) ctx.err << "\n";
  if (!report.ok()) return report.status();
  FB_ASSIGN_OR_RETURN(std::string open_conflicts, sync::ListConflictsJson(*store, false));
  FB_ASSIGN_OR_RETURN(rapidjson::Document open, ParseJson(open_conflicts, "conflicts"));
  if (ctx.args.Has("json")) {
    ctx.out << R"({"pushed":)" << report->pushed << R"(,"pulled":)" << report->pulled << R"(,"conflicts":)"
            << report->conflicts << R"(,"open_conflicts":)" << open.Size() << R"(,"evicted":)" << report->evicted
            << R"(,"cursor":)" << report->cursor << R"(,"round_trips":)" << report->round_trips
            << R"(,"blobs_uploaded":)" << report->blobs_uploaded << R"(,"blobs_refused":)" << report->blobs_refused
            << "}\n";
  } else {
    ctx.out << "synced: pushed " << report->pushed << ", pulled " << report->pulled << ", new conflicts "
            << report->conflicts << " (" << open.Size() << " open), cursor " << report->cursor << "\n";
  }
  return Status::Ok();
#else
  (void)url;
  (void)token;
  return Status(ErrorCode::kUnavailable, "this fieldbook was built without an HTTP transport (FIELDBOOK_WITH_CPPREST=OFF)");
#endif
}

Status RunConflicts(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(std::string json, sync::ListConflictsJson(*store, ctx.args.Has("all")));
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "conflicts"));
  if (doc.Empty()) ctx.out << "no open conflicts\n";
  for (const auto& c : doc.GetArray()) {
    auto text = [&](const char* key) { return c[key].IsString() ? std::string(c[key].GetString()) : std::string("-"); };
    ctx.out << c["id"].GetString() << "  " << text("kind") << "  " << text("tbl") << " " << text("row_id")
            << (c["col"].IsString() ? "." + text("col") : std::string()) << "\n    kept:  " << text("winner_value")
            << " (device " << text("winner_site") << ")\n    lost:  " << text("loser_value") << " (device "
            << text("loser_site") << ")\n";
  }
  return Status::Ok();
}

Status RunResolve(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CONFLICT_ID"));
  FB_ASSIGN_OR_RETURN(std::string keep, RequiredValue(ctx, "keep"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(*store));
  FB_ASSIGN_OR_RETURN(std::string row, sync::ResolveConflict(*store, id, sync::ParseKeep(keep), profile.agent));
  ctx.out << row << "\n";
  return Status::Ok();
}

}  // namespace

void AddSyncCommands(CommandTable& t) {
  t.push_back({"sync", "sync --server URL --token TOKEN [--json]", {"server", "token"}, {"json"}, RunSync});
  t.push_back({"conflicts", "conflicts [--json] [--all]", {}, {"json", "all"}, RunConflicts});
  t.push_back({"conflicts resolve", "conflicts resolve CONFLICT_ID --keep winner|loser|VALUE", {"keep"}, {}, RunResolve});
}

}  // namespace fieldbook::cli
