// Customer operation methods: the service calendar, the kanban, classification, the
// lifecycle, the team's operation settings, quotas and announced holidays.
#include "fieldbook/core/operation.h"
#include "fieldbook/core/operation_calendar.h"
#include "fieldbook/core/operation_kanban.h"
#include "methods.h"

namespace fieldbook::platform {
namespace {

Result<Date> DateArg(const rapidjson::Value& a, const char* key, bool required, const Date& fallback) {
  FB_ASSIGN_OR_RETURN(std::string text, args::OptionalString(a, key));
  if (text.empty()) {
    if (required) return Status(ErrorCode::kMissingField, "is required (YYYY-MM-DD)", key);
    return fallback;
  }
  auto d = ParseDate(text);
  if (!d.ok()) return Status(ErrorCode::kInvalidField, d.status().message(), key);
  return *d;
}

Date Today(MethodContext& c) { return ChinaDateOfMs(c.store.env().NowMs()); }

Result<std::string> Calendar(MethodContext& c, const rapidjson::Value& a, bool today_view) {
  CalendarQuery q;
  if (today_view) {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"date", "agent"}));
  } else {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"from", "to", "date", "agent"}));
  }
  FB_ASSIGN_OR_RETURN(q.today, DateArg(a, "date", false, Today(c)));
  if (today_view) {
    q.from = q.to = q.today;
    q.with_overdue = true;
  } else {
    FB_ASSIGN_OR_RETURN(q.from, DateArg(a, "from", true, q.today));
    FB_ASSIGN_OR_RETURN(q.to, DateArg(a, "to", true, q.today));
  }
  FB_ASSIGN_OR_RETURN(q.agent, args::OptionalString(a, "agent"));
  auto lunar = MakeLunarCalendar(c.store);
  FB_ASSIGN_OR_RETURN(std::string json, ServiceCalendarJson(c.store, q, *lunar));
  // Only spares the next call working the years out: the calendar is the answer either way.
  (void)KeepLunarYears(c.store, *lunar);
  return json;
}

Result<std::string> KanbanMethod(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"period", "date", "team"}));
  KanbanQuery q;
  FB_ASSIGN_OR_RETURN(std::string period, args::OptionalString(a, "period"));
  if (period.empty() || period == "day") {
    q.period = KanbanPeriod::kDay;
  } else if (period == "week") {
    q.period = KanbanPeriod::kWeek;
  } else if (period == "month") {
    q.period = KanbanPeriod::kMonth;
  } else {
    return Status(ErrorCode::kInvalidField, "must be day, week or month", "period");
  }
  FB_ASSIGN_OR_RETURN(q.date, DateArg(a, "date", false, Today(c)));
  FB_ASSIGN_OR_RETURN(q.team, args::OptionalBool(a, "team", false));
  FB_ASSIGN_OR_RETURN(Kanban k, BuildKanban(c.store, q));
  return KanbanJson(k);
}

Result<std::string> Classify(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "all", "date"}));
  FB_ASSIGN_OR_RETURN(Date today, DateArg(a, "date", false, Today(c)));
  FB_ASSIGN_OR_RETURN(bool all, args::OptionalBool(a, "all", false));
  if (all) {
    if (a.HasMember("customer_id")) {
      return Status(ErrorCode::kInvalidArgument, "give customer_id or all, not both", "customer_id");
    }
    FB_ASSIGN_OR_RETURN(auto list, ClassifyAll(c.archive, today));
    std::string json = "[";
    for (const auto& one : list) {
      if (json.size() > 1) json += ",";
      json += ClassificationJson(one);
    }
    return json + "]";
  }
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "customer_id"));
  FB_ASSIGN_OR_RETURN(Classification one, ClassifyCustomer(c.archive, id, today));
  return ClassificationJson(one);
}

Result<std::string> ClassifySet(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "needs_segment", "value_tier", "reason", "date"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "customer_id"));
  FB_ASSIGN_OR_RETURN(Date today, DateArg(a, "date", false, Today(c)));
  FB_ASSIGN_OR_RETURN(std::string reason, args::OptionalString(a, "reason"));
  const bool segment = a.HasMember("needs_segment"), tier = a.HasMember("value_tier");
  if (!segment && !tier) {
    return Status(ErrorCode::kMissingField, "give needs_segment and/or value_tier (\"\" clears)", "needs_segment");
  }
  FB_ASSIGN_OR_RETURN(Transaction txn, c.store.Begin());
  for (const char* field : {"needs_segment", "value_tier"}) {
    if (!a.HasMember(field)) continue;
    FB_ASSIGN_OR_RETURN(std::string value, args::OptionalString(a, field));
    FB_RETURN_IF_ERROR(OverrideClassification(c.archive, id, field, value, reason));
  }
  FB_RETURN_IF_ERROR(txn.Commit());
  FB_ASSIGN_OR_RETURN(Classification one, ClassifyCustomer(c.archive, id, today));
  return ClassificationJson(one);
}

Result<std::string> Lifecycle(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "customer_id"));
  FB_ASSIGN_OR_RETURN(auto events, LifecycleHistory(c.store, id));
  return LifecycleEventsJson(events);
}

Result<std::string> LifecycleAdvance(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "all", "date"}));
  FB_ASSIGN_OR_RETURN(Date today, DateArg(a, "date", false, Today(c)));
  FB_ASSIGN_OR_RETURN(bool all, args::OptionalBool(a, "all", false));
  std::vector<LifecycleEvent> steps;
  if (all) {
    if (a.HasMember("customer_id")) {
      return Status(ErrorCode::kInvalidArgument, "give customer_id or all, not both", "customer_id");
    }
    FB_ASSIGN_OR_RETURN(steps, AdvanceAllLifecycles(c.archive, today));
  } else {
    FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "customer_id"));
    FB_ASSIGN_OR_RETURN(steps, AdvanceLifecycle(c.archive, id, today));
  }
  return LifecycleEventsJson(steps);
}

Result<std::string> LifecycleMove(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "stage", "reason"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "customer_id"));
  FB_ASSIGN_OR_RETURN(std::string stage, args::RequiredString(a, "stage"));
  FB_ASSIGN_OR_RETURN(std::string reason, args::OptionalString(a, "reason"));
  FB_ASSIGN_OR_RETURN(LifecycleEvent e, MoveLifecycle(c.archive, id, stage, reason));
  return LifecycleEventsJson({e});
}

Result<std::string> ConfigShow(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {}));
  FB_ASSIGN_OR_RETURN(Profile p, Archive::LoadProfile(c.store));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(c.store, p.team));
  return OperationConfigJson(config);
}

Result<std::string> ConfigSet(MethodContext& c, const rapidjson::Value& a) {
  FB_ASSIGN_OR_RETURN(Profile p, Archive::LoadProfile(c.store));
  FB_RETURN_IF_ERROR(SaveOperationConfig(c.archive, p.team, ToJson(a)));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(c.store, p.team));
  return OperationConfigJson(config);
}

Result<std::string> QuotaMethod(MethodContext& c, const rapidjson::Value& a, bool set) {
  if (set) {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"agent", "prospects_per_day", "visits_per_day", "calls_per_day"}));
  } else {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"agent"}));
  }
  FB_ASSIGN_OR_RETURN(Profile p, Archive::LoadProfile(c.store));
  FB_ASSIGN_OR_RETURN(std::string agent, args::OptionalString(a, "agent"));
  if (agent.empty()) agent = p.agent;
  if (set) {
    rapidjson::Document values(rapidjson::kObjectType);
    for (auto it = a.MemberBegin(); it != a.MemberEnd(); ++it) {
      if (std::string_view(it->name.GetString()) == "agent") continue;
      values.AddMember(rapidjson::Value(it->name, values.GetAllocator()),
                       rapidjson::Value(it->value, values.GetAllocator()), values.GetAllocator());
    }
    FB_RETURN_IF_ERROR(SaveQuota(c.archive, agent, ToJson(values)));
  }
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(c.store, p.team));
  FB_ASSIGN_OR_RETURN(Quota q, LoadQuota(c.store, config, agent));
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("agent");
  w.String(q.agent.c_str());
  w.Key("prospects_per_day");
  w.Int(q.prospects);
  w.Key("visits_per_day");
  w.Int(q.visits);
  w.Key("calls_per_day");
  w.Int(q.calls);
  w.Key("own");
  w.Bool(q.own);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> HolidayAdd(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"date", "kind", "name"}));
  FB_ASSIGN_OR_RETURN(std::string date, args::RequiredString(a, "date"));
  const std::string id = DerivedId("holidays|" + date);
  FB_ASSIGN_OR_RETURN(bool exists, c.archive.records().Exists("holidays", id));
  rapidjson::Document doc;
  doc.CopyFrom(a, doc.GetAllocator());
  if (exists) {
    doc.RemoveMember("date");
    FB_RETURN_IF_ERROR(c.archive.Set("holidays", id, ToJson(doc)));
  } else {
    doc.AddMember("id", rapidjson::Value(id.c_str(), doc.GetAllocator()), doc.GetAllocator());
    FB_ASSIGN_OR_RETURN(std::string added, c.archive.Add("holidays", ToJson(doc)));
    (void)added;
  }
  return IdJson(id);
}

}  // namespace

void AddOperationMethods(MethodTableMap& t) {
  t.emplace("calendar.today", [](MethodContext& c, const rapidjson::Value& a) { return Calendar(c, a, true); });
  t.emplace("calendar.range", [](MethodContext& c, const rapidjson::Value& a) { return Calendar(c, a, false); });
  t.emplace("kanban", KanbanMethod);
  t.emplace("classify", Classify);
  t.emplace("classify.set", ClassifySet);
  t.emplace("lifecycle", Lifecycle);
  t.emplace("lifecycle.advance", LifecycleAdvance);
  t.emplace("lifecycle.move", LifecycleMove);
  t.emplace("operation.config", ConfigShow);
  t.emplace("operation.config.set", ConfigSet);
  t.emplace("quota", [](MethodContext& c, const rapidjson::Value& a) { return QuotaMethod(c, a, false); });
  t.emplace("quota.set", [](MethodContext& c, const rapidjson::Value& a) { return QuotaMethod(c, a, true); });
  t.emplace("holiday.add", HolidayAdd);
}

}  // namespace fieldbook::platform
