// Customer operation commands: today, calendar, kanban, classify, lifecycle, config,
// quota, holiday.
#include <algorithm>
#include <iostream>

#include "cli.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "fieldbook/core/operation_calendar.h"
#include "fieldbook/core/operation_kanban.h"
#include "profile.h"

namespace fieldbook::cli {
namespace {

Result<Date> DateFlag(const Context& ctx, const std::string& flag, std::optional<Date> fallback = std::nullopt) {
  auto v = ctx.args.Value(flag);
  if (!v) {
    if (fallback) return *fallback;
    return Usage("missing --" + flag + " YYYY-MM-DD");
  }
  auto d = ParseDate(*v);
  if (!d.ok()) return Status(ErrorCode::kInvalidArgument, d.status().message(), flag);
  return *d;
}

Date Today() { return ChinaDateOfMs(SystemEnv().NowMs()); }

Status PrintCalendar(Context& ctx, const CalendarResult& r) {
  for (const auto& n : r.notices) ctx.out << "note: " << n << "\n";
  for (const auto& o : r.occasions) {
    ctx.out << o.date.ToString() << "  " << o.kind << "  " << o.title;
    if (!o.detail.empty()) ctx.out << "  (" << o.detail << ")";
    if (o.overdue) ctx.out << "  OVERDUE";
    if (o.done) ctx.out << "  done";
    ctx.out << "\n";
  }
  if (r.occasions.empty()) ctx.out << "nothing due\n";
  return Status::Ok();
}

Status RunCalendar(Context& ctx, bool today_view) {
  CalendarQuery q;
  FB_ASSIGN_OR_RETURN(q.today, DateFlag(ctx, "date", Today()));
  if (today_view) {
    q.from = q.to = q.today;
    q.with_overdue = true;
  } else {
    FB_ASSIGN_OR_RETURN(q.from, DateFlag(ctx, "from"));
    FB_ASSIGN_OR_RETURN(q.to, DateFlag(ctx, "to"));
  }
  q.agent = ctx.args.Value("agent").value_or("");
  PrepareHeapForLargeReads();
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  auto lunar = MakeLunarCalendar(*store);
  if (ctx.args.Has("json")) {
    FB_RETURN_IF_ERROR(WriteServiceCalendarJson(*store, q, *lunar, [&](std::string_view piece) {
      ctx.out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }));
    ctx.out << "\n";
  } else {
    FB_ASSIGN_OR_RETURN(CalendarResult r, ServiceCalendar(*store, q, *lunar));
    FB_RETURN_IF_ERROR(PrintCalendar(ctx, r));
  }
  ctx.out.flush();
  // After the answer: the lunar years are only kept to spare the next run working them out.
  if (Status kept = KeepLunarYears(*store, *lunar); !kept.ok()) {
    ctx.err << "note: lunar years not kept for the next run: " << kept.message() << "\n";
  }
  return Status::Ok();
}

Status RunKanban(Context& ctx) {
  KanbanQuery q;
  int periods = 0;
  for (auto [flag, period] : {std::pair{"day", KanbanPeriod::kDay}, {"week", KanbanPeriod::kWeek},
                              {"month", KanbanPeriod::kMonth}}) {
    if (ctx.args.Has(flag)) q.period = period, ++periods;
  }
  if (periods != 1) return Usage("give exactly one of --day, --week or --month");
  FB_ASSIGN_OR_RETURN(q.date, DateFlag(ctx, "date", Today()));
  q.team = ctx.args.Has("team");
  PrepareHeapForLargeReads();
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(Kanban k, BuildKanban(*store, q));
  if (ctx.args.Has("json")) {
    ctx.out << KanbanJson(k) << "\n";
    return Status::Ok();
  }
  ctx.out << k.from.ToString() << " .. " << k.to.ToString() << " (" << k.working_days << " working days)\n";
  auto line = [&](const AgentBoard& b) {
    ctx.out << b.agent << ": tasks " << b.tasks_done << "/" << b.tasks_planned << " done, " << b.tasks_overdue
            << " overdue; revisits " << b.revisits_done << "/" << b.revisits_planned << ", " << b.revisits_overdue
            << " overdue; prospects " << b.prospects.done << "/" << b.prospects.target << ", visits "
            << b.visits.done << "/" << b.visits.target << ", calls " << b.calls.done << "/" << b.calls.target
            << "; contact rate ";
    if (auto r = b.contact_rate()) {
      ctx.out << static_cast<int>(*r * 100 + 0.5) << "%\n";
    } else {
      ctx.out << "-\n";
    }
  };
  for (const auto& b : k.agents) line(b);
  if (q.team) line(k.total);
  return Status::Ok();
}

Status PrintJsonOr(Context& ctx, const std::string& json, const std::string& plain) {
  ctx.out << (ctx.args.Has("json") ? json : plain) << "\n";
  return Status::Ok();
}

std::string ClassificationLine(const Classification& c) {
  return c.customer_id + "  " + c.segment.value_or("-") + "  " + c.tier + (c.segment_override ? "  (segment set by hand)" : "") +
         (c.tier_override ? "  (tier set by hand)" : "") + "  " + c.strategy.service_level + ", revisit every " +
         std::to_string(c.strategy.revisit_days) + " days";
}

Status RunClassify(Context& ctx) {
  FB_ASSIGN_OR_RETURN(Date today, DateFlag(ctx, "date", Today()));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  if (ctx.args.Has("all")) {
    if (!ctx.args.positional.empty()) return Usage("give a CUSTOMER_ID or --all, not both");
    FB_ASSIGN_OR_RETURN(auto all, ClassifyAll(archive, today));
    std::string json = "[", plain;
    int changed = 0;
    for (const auto& c : all) {
      if (json.size() > 1) json += ",";
      json += ClassificationJson(c);
      changed += c.changed ? 1 : 0;
    }
    json += "]";
    plain = "classified " + std::to_string(all.size()) + " customers, " + std::to_string(changed) + " changed";
    return PrintJsonOr(ctx, json, plain);
  }
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID (or --all)"));
  FB_ASSIGN_OR_RETURN(Classification c, ClassifyCustomer(archive, id, today));
  return PrintJsonOr(ctx, ClassificationJson(c), ClassificationLine(c));
}

Status RunClassifySet(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID"));
  auto segment = ctx.args.Value("segment");
  auto tier = ctx.args.Value("tier");
  if (!segment && !tier) return Usage("give --segment SEGMENT and/or --tier TIER (an empty value clears it)");
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  const std::string reason = ctx.args.Value("reason").value_or("");
  FB_ASSIGN_OR_RETURN(Transaction txn, store->Begin());
  if (segment) FB_RETURN_IF_ERROR(OverrideClassification(archive, id, "needs_segment", *segment, reason));
  if (tier) FB_RETURN_IF_ERROR(OverrideClassification(archive, id, "value_tier", *tier, reason));
  FB_RETURN_IF_ERROR(txn.Commit());
  FB_ASSIGN_OR_RETURN(Date today, DateFlag(ctx, "date", Today()));
  FB_ASSIGN_OR_RETURN(Classification c, ClassifyCustomer(archive, id, today));
  return PrintJsonOr(ctx, ClassificationJson(c), ClassificationLine(c));
}

std::string EventsPlain(const std::vector<LifecycleEvent>& events) {
  std::string out;
  for (const auto& e : events) {
    if (!out.empty()) out += "\n";
    out += FormatTimestampMs(e.occurred_at) + "  " + (e.from_stage.empty() ? "-" : e.from_stage) + " -> " +
           e.to_stage + "  " + e.reason + (e.note.empty() ? "" : "  " + e.note);
  }
  return out.empty() ? "no lifecycle changes" : out;
}

Status RunLifecycle(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(auto events, LifecycleHistory(*store, id));
  return PrintJsonOr(ctx, LifecycleEventsJson(events), EventsPlain(events));
}

Status RunLifecycleAdvance(Context& ctx) {
  FB_ASSIGN_OR_RETURN(Date today, DateFlag(ctx, "date", Today()));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  std::vector<LifecycleEvent> steps;
  if (ctx.args.Has("all")) {
    if (!ctx.args.positional.empty()) return Usage("give a CUSTOMER_ID or --all, not both");
    FB_ASSIGN_OR_RETURN(steps, AdvanceAllLifecycles(archive, today));
  } else {
    FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID (or --all)"));
    FB_ASSIGN_OR_RETURN(steps, AdvanceLifecycle(archive, id, today));
  }
  return PrintJsonOr(ctx, LifecycleEventsJson(steps), EventsPlain(steps));
}

Status RunLifecycleMove(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID"));
  FB_ASSIGN_OR_RETURN(std::string stage, RequiredValue(ctx, "stage"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(LifecycleEvent e, MoveLifecycle(archive, id, stage, ctx.args.Value("reason").value_or("")));
  return PrintJsonOr(ctx, LifecycleEventsJson({e}), EventsPlain({e}));
}

Status RunConfigShow(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(*store));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(*store, profile.team));
  ctx.out << OperationConfigJson(config) << "\n";
  return Status::Ok();
}

Status RunConfigSet(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(*store));
  Archive archive(*store);
  FB_RETURN_IF_ERROR(SaveOperationConfig(archive, profile.team, json));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(*store, profile.team));
  ctx.out << OperationConfigJson(config) << "\n";
  return Status::Ok();
}

std::string QuotaJson(const Quota& q) {
  return R"({"agent":)" + [&] {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.String(q.agent.c_str());
    return std::string(b.GetString(), b.GetSize());
  }() + R"(,"prospects_per_day":)" + std::to_string(q.prospects) + R"(,"visits_per_day":)" +
         std::to_string(q.visits) + R"(,"calls_per_day":)" + std::to_string(q.calls) + R"(,"own":)" +
         (q.own ? "true" : "false") + "}";
}

Status RunQuota(Context& ctx, bool set) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(*store));
  const std::string agent = ctx.args.Value("agent").value_or(profile.agent);
  if (set) {
    FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
    Archive archive(*store);
    FB_RETURN_IF_ERROR(SaveQuota(archive, agent, json));
  }
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(*store, profile.team));
  FB_ASSIGN_OR_RETURN(Quota q, LoadQuota(*store, config, agent));
  return PrintJsonOr(ctx, QuotaJson(q),
                     agent + ": " + std::to_string(q.prospects) + " prospects, " + std::to_string(q.visits) +
                         " visits, " + std::to_string(q.calls) + " calls a working day" +
                         (q.own ? "" : " (team default)"));
}

Status RunHolidayAdd(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  if (!doc.HasMember("date") || !doc["date"].IsString()) {
    return Status(ErrorCode::kMissingField, "is required (YYYY-MM-DD)", "date");
  }
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  // One entry per date: announcing a date again replaces what it said.
  const std::string id = DerivedId(std::string("holidays|") + doc["date"].GetString());
  FB_ASSIGN_OR_RETURN(bool exists, archive.records().Exists("holidays", id));
  if (exists) {
    doc.RemoveMember("date");
    FB_RETURN_IF_ERROR(archive.Set("holidays", id, ToJson(doc)));
  } else {
    doc.AddMember("id", rapidjson::Value(id.c_str(), doc.GetAllocator()), doc.GetAllocator());
    FB_ASSIGN_OR_RETURN(std::string added, archive.Add("holidays", ToJson(doc)));
    (void)added;
  }
  ctx.out << id << "\n";
  return Status::Ok();
}

Status RunHolidayList(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  ListQuery q;
  q.table = "holidays";
  FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "holidays"));
  std::vector<std::pair<std::string, std::string>> rows;  // date -> line, sorted by date
  for (const auto& r : doc.GetArray()) {
    rows.emplace_back(r["date"].GetString(), std::string(r["date"].GetString()) + "  " + r["kind"].GetString() +
                                                  "  " + r["name"].GetString());
  }
  std::sort(rows.begin(), rows.end());
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  for (const auto& [date, line] : rows) ctx.out << line << "\n";
  return Status::Ok();
}

}  // namespace

void AddOperationCommands(CommandTable& t) {
  t.push_back({"today", "today [--date YYYY-MM-DD] [--agent AGENT] [--json]", {"date", "agent"}, {"json"},
               [](Context& ctx) { return RunCalendar(ctx, true); }});
  t.push_back({"calendar", "calendar --from YYYY-MM-DD --to YYYY-MM-DD [--date YYYY-MM-DD] [--agent AGENT] [--json]",
               {"from", "to", "date", "agent"}, {"json"}, [](Context& ctx) { return RunCalendar(ctx, false); }});
  t.push_back({"kanban", "kanban --day|--week|--month [--date YYYY-MM-DD] [--team] [--json]", {"date"},
               {"day", "week", "month", "team", "json"}, RunKanban});
  t.push_back({"classify", "classify CUSTOMER_ID|--all [--date YYYY-MM-DD] [--json]", {"date"}, {"all", "json"},
               RunClassify});
  t.push_back({"classify set", "classify set CUSTOMER_ID [--segment S] [--tier T] [--reason TEXT] [--json]",
               {"segment", "tier", "reason", "date"}, {"json"}, RunClassifySet});
  t.push_back({"lifecycle", "lifecycle CUSTOMER_ID [--json]", {}, {"json"}, RunLifecycle});
  t.push_back({"lifecycle advance", "lifecycle advance CUSTOMER_ID|--all [--date YYYY-MM-DD] [--json]", {"date"},
               {"all", "json"}, RunLifecycleAdvance});
  t.push_back({"lifecycle move", "lifecycle move CUSTOMER_ID --stage STAGE [--reason TEXT] [--json]",
               {"stage", "reason"}, {"json"}, RunLifecycleMove});
  t.push_back({"config show", "config show [--json]", {}, {"json"}, RunConfigShow});
  t.push_back({"config set", "config set --json '{\"grace_days\":60,...}'", {"json"}, {}, RunConfigSet});
  t.push_back({"quota show", "quota show [--agent AGENT] [--json]", {"agent"}, {"json"},
               [](Context& ctx) { return RunQuota(ctx, false); }});
  t.push_back({"quota set", "quota set [--agent AGENT] --json '{\"visits_per_day\":3,...}'", {"agent", "json"}, {},
               [](Context& ctx) { return RunQuota(ctx, true); }});
  t.push_back({"holiday add", "holiday add --json '{\"date\":\"YYYY-MM-DD\",\"kind\":\"holiday\",\"name\":...}'",
               {"json"}, {}, RunHolidayAdd});
  t.push_back({"holiday list", "holiday list [--json]", {}, {"json"}, RunHolidayList});
}

}  // namespace fieldbook::cli
