// Relationship and service-quality commands: relationship cards, maintenance logs,
// evaluations (approved by a lead), investment holdings, events and invitations,
// complaints, satisfaction surveys and claims assistance.
#include <iostream>

#include "cli.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/core/service_quality.h"
#include "profile.h"

namespace fieldbook::cli {
namespace {

std::string Plain(const rapidjson::Value& v) {
  if (v.IsNull()) return "-";
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  return ToJson(v);
}

std::string IdJsonText(const std::string& id) { return "{\"id\":\"" + id + "\"}"; }

void PrintId(Context& ctx, const std::string& id) {
  if (ctx.args.Has("json")) ctx.out << IdJsonText(id) << "\n";
  else ctx.out << id << "\n";
}

Status PrintRows(Context& ctx, const std::string& json, const std::vector<std::string>& columns) {
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "rows"));
  for (const auto& row : doc.GetArray()) {
    ctx.out << row["id"].GetString();
    for (const auto& c : columns) ctx.out << "  " << (row.HasMember(c.c_str()) ? Plain(row[c.c_str()]) : "-");
    ctx.out << "\n";
  }
  return Status::Ok();
}

Status PrintRow(Context& ctx, const std::string& json) {
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "record"));
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    if (!it->value.IsNull()) ctx.out << it->name.GetString() << ": " << Plain(it->value) << "\n";
  }
  return Status::Ok();
}

// One table's add / list / show / set / delete commands under `name`.
struct Crud {
  std::string name;     // "complaint"
  std::string table;    // "complaints"
  std::string parent;   // "customer", "claim", or "" for rows of the agent
  std::vector<std::string> columns;  // plain-text list columns
};

// `json` with `key` set to `value` (the parent named on the command line).
Result<std::string> WithKey(const std::string& json, const char* key, const std::string& value) {
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  if (doc.HasMember(key)) {
    if (!doc[key].IsString() || value != doc[key].GetString()) {
      return Status(ErrorCode::kInvalidField, "differs from the id named on the command line", key);
    }
    doc.RemoveMember(key);
  }
  doc.AddMember(rapidjson::Value(key, doc.GetAllocator()), rapidjson::Value(value.c_str(), doc.GetAllocator()),
                doc.GetAllocator());
  return ToJson(doc);
}

void AddCrud(CommandTable& t, const Crud& c) {
  const std::string parent_arg = c.parent.empty() ? "" : " " + c.parent + "_ID";
  std::string upper = parent_arg;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  t.push_back({c.name + " add", c.name + " add" + upper + " --json '{...}'", {"json"}, {}, [c](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 std::string id;
                 if (c.parent.empty()) {
                   FB_ASSIGN_OR_RETURN(id, archive.Add(c.table, json));
                 } else {
                   FB_ASSIGN_OR_RETURN(std::string parent, Positional(ctx, 0, c.parent + " id"));
                   FB_ASSIGN_OR_RETURN(std::string with, WithKey(json, (c.parent + "_id").c_str(), parent));
                   FB_ASSIGN_OR_RETURN(id, archive.Add(c.table, with));
                 }
                 ctx.out << id << "\n";
                 return Status::Ok();
               }});
  t.push_back({c.name + " list", c.name + " list [CUSTOMER_ID] [--json] [--purpose P]", {"purpose"}, {"json"},
               [c](Context& ctx) -> Status {
                 FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 ListQuery q;
                 q.table = c.table;
                 if (!ctx.args.positional.empty()) q.customer_id = ctx.args.positional[0];
                 FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
                 FB_RETURN_IF_ERROR(AuditRows(ctx, *store, "list", c.table, json));
                 return PrintRows(ctx, json, c.columns);
               }});
  t.push_back({c.name + " show", c.name + " show ID [--json] [--purpose P]", {"purpose"}, {"json"},
               [c](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 FB_ASSIGN_OR_RETURN(std::string json, archive.Show(c.table, id));
                 FB_RETURN_IF_ERROR(AuditRow(ctx, *store, "read", c.table, id));
                 return PrintRow(ctx, json);
               }});
  t.push_back({c.name + " set", c.name + " set ID --json '{...}'", {"json"}, {}, [c](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 FB_RETURN_IF_ERROR(archive.Set(c.table, id, json));
                 ctx.out << id << "\n";
                 return Status::Ok();
               }});
  t.push_back({c.name + " delete", c.name + " delete ID [--json]", {}, {"json"}, [c](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 FB_RETURN_IF_ERROR(archive.Remove(c.table, id));
                 PrintId(ctx, id);
                 return Status::Ok();
               }});
}

Result<WriteContext> ContextAt(Context& ctx, Store& store) {
  Archive archive(store);
  FB_ASSIGN_OR_RETURN(WriteContext wc, archive.Context());
  if (auto now = ctx.args.Value("now")) {
    auto ms = ParseTimestampMs(*now);
    if (!ms.ok()) return Status(ErrorCode::kInvalidArgument, "must be a timestamp such as 2026-11-23T09:00:00Z", "now");
    wc.now_ms = *ms;
  }
  return wc;
}

Status RunCardSet(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string customer, Positional(ctx, 0, "CUSTOMER_ID"));
  FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(WriteContext wc, archive.Context());
  FB_ASSIGN_OR_RETURN(bool exists, archive.records().Exists("customers", customer));
  if (!exists) return Status(ErrorCode::kNotFound, "no customer with id " + customer, "customer_id");
  FB_ASSIGN_OR_RETURN(Transaction txn, store->Begin());
  FB_ASSIGN_OR_RETURN(std::string id, SetRelationshipCard(archive.records(), customer, json, wc));
  FB_RETURN_IF_ERROR(txn.Commit());
  ctx.out << id << "\n";
  return Status::Ok();
}

Status RunCardShow(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string customer, Positional(ctx, 0, "CUSTOMER_ID"));
  FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  const std::string id = RelationshipCardId(customer);
  auto json = archive.Show("relationship_cards", id);
  if (!json.ok() && json.status().code() == ErrorCode::kNotFound) {
    return Status(ErrorCode::kNotFound, "customer " + customer + " has no relationship card");
  }
  if (!json.ok()) return json.status();
  FB_RETURN_IF_ERROR(AuditRow(ctx, *store, "read", "relationship_cards", id));
  return PrintRow(ctx, *json);
}

Status RunCards(Context& ctx) {
  FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  ListQuery q;
  q.table = "relationship_cards";
  if (auto level = ctx.args.Value("level")) q.equals.emplace_back("level", Value{*level});
  FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
  FB_RETURN_IF_ERROR(AuditRows(ctx, *store, "list", "relationship_cards", json));
  return PrintRows(ctx, json, {"customer_id", "level", "strength", "next_review_date"});
}

Status RunReview(Context& ctx, bool approve) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "EVALUATION_ID"));
  const std::string feedback = ctx.args.Value("feedback").value_or("");
  if (!approve && feedback.empty()) return Usage("a rejection needs --feedback TEXT");
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(WriteContext wc, archive.Context());
  FB_ASSIGN_OR_RETURN(Transaction txn, store->Begin());
  FB_RETURN_IF_ERROR(ReviewEvaluation(archive.records(), id, approve, feedback, wc));
  FB_RETURN_IF_ERROR(txn.Commit());
  FB_ASSIGN_OR_RETURN(std::string json, archive.Show("relationship_evaluations", id));
  return PrintRow(ctx, json);
}

Status RunInvite(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string event, Positional(ctx, 0, "EVENT_ID"));
  FB_ASSIGN_OR_RETURN(std::string customer, Positional(ctx, 1, "CUSTOMER_ID"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("event_id");
  w.String(event.c_str());
  w.Key("customer_id");
  w.String(customer.c_str());
  w.Key("status");
  w.String(ctx.args.Value("status").value_or("invited").c_str());
  w.EndObject();
  FB_ASSIGN_OR_RETURN(std::string id, archive.Add("event_invitations", buf.GetString()));
  PrintId(ctx, id);
  return Status::Ok();
}

Status RunAttendance(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string event, Positional(ctx, 0, "EVENT_ID"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(bool exists, archive.records().Exists("events", event));
  if (!exists) return Status(ErrorCode::kNotFound, "no event with id " + event);
  FB_ASSIGN_OR_RETURN(Statement st, store->Prepare(
      "SELECT status, count(*), coalesce(sum(guests), 0) FROM event_invitations WHERE event_id = ?1 GROUP BY 1"));
  st.Bind(1, event);
  std::map<std::string, std::pair<int64_t, int64_t>> by_status;
  for (const char* s : {"invited", "accepted", "declined", "attended", "no_show"}) by_status[s] = {0, 0};
  int64_t total = 0;
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    by_status[st.String(0)] = {st.Int(1), st.Int(2)};
    total += st.Int(1);
  }
  const int64_t came = by_status["attended"].first;
  const int64_t expected = by_status["accepted"].first + came + by_status["no_show"].first;
  if (ctx.args.Has("json")) {
    ctx.out << R"({"event_id":")" << event << R"(","invited":)" << total;
    for (const auto& [status, n] : by_status) ctx.out << ",\"" << status << "\":" << n.first;
    ctx.out << R"(,"guests":)" << by_status["attended"].second << R"(,"attendance_rate":)";
    if (expected > 0) ctx.out << static_cast<double>(came) / static_cast<double>(expected); else ctx.out << "null";
    ctx.out << "}\n";
  } else {
    ctx.out << "invited " << total << ", accepted " << by_status["accepted"].first << ", declined "
            << by_status["declined"].first << ", attended " << came << ", no-show " << by_status["no_show"].first
            << "\n";
  }
  return Status::Ok();
}

Status RunComplaintList(Context& ctx) {
  FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(WriteContext wc, ContextAt(ctx, *store));
  Archive archive(*store);
  ListQuery q;
  q.table = "complaints";
  if (!ctx.args.positional.empty()) q.customer_id = ctx.args.positional[0];
  if (auto status = ctx.args.Value("status")) q.equals.emplace_back("status", Value{*status});
  FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
  if (ctx.args.Has("overdue")) {
    FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "complaints"));
    rapidjson::Document kept(rapidjson::kArrayType);
    for (auto& row : doc.GetArray()) {
      const std::string status = row["status"].GetString();
      if (status != "resolved" && status != "closed" && row["sla_deadline"].IsInt64() &&
          row["sla_deadline"].GetInt64() < wc.now_ms) {
        kept.PushBack(rapidjson::Value(row, kept.GetAllocator()), kept.GetAllocator());
      }
    }
    json = ToJson(kept);
  }
  FB_RETURN_IF_ERROR(AuditRows(ctx, *store, "list", "complaints", json));
  return PrintRows(ctx, json, {"severity", "status", "sla_deadline", "category"});
}

Status RunComplaintEscalate(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(WriteContext wc, ContextAt(ctx, *store));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(std::vector<std::string> ids, EscalateOverdueComplaints(archive.records(), wc));
  if (ctx.args.Has("json")) {
    ctx.out << R"({"escalated":[)";
    for (size_t i = 0; i < ids.size(); ++i) ctx.out << (i ? "," : "") << '"' << ids[i] << '"';
    ctx.out << "]}\n";
  } else {
    ctx.out << "escalated " << ids.size() << " overdue complaint(s)\n";
    for (const auto& id : ids) ctx.out << "  " << id << "\n";
  }
  return Status::Ok();
}

Status RunComplaintResolve(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "COMPLAINT_ID"));
  FB_ASSIGN_OR_RETURN(std::string resolution, RequiredValue(ctx, "resolution"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(WriteContext wc, ContextAt(ctx, *store));
  Archive archive(*store);
  Records& records = archive.records();
  FB_ASSIGN_OR_RETURN(Transaction txn, store->Begin());
  FB_ASSIGN_OR_RETURN(std::optional<RowValues> complaint, records.Get("complaints", id));
  if (!complaint) return Status(ErrorCode::kNotFound, "no complaint with id " + id);
  RowValues patch(records.Table("complaints"));
  patch.Set("status", Value{std::string("resolved")});
  patch.Set("resolution", Value{resolution});
  patch.Set("resolved_at", Value{wc.now_ms});
  if (auto s = ctx.args.Value("satisfaction")) {
    const std::string text = *s;
    if (text.size() != 1 || text[0] < '1' || text[0] > '5') {
      return Status(ErrorCode::kInvalidField, "must be a score from 1 to 5", "satisfaction");
    }
    patch.Set("satisfaction", Value{int64_t{text[0] - '0'}});
  }
  FB_RETURN_IF_ERROR(records.Update("complaints", id, patch, wc));
  RowValues step(records.Table("complaint_steps"));
  step.Set("complaint_id", Value{id});
  step.Set("action", Value{std::string("resolved")});
  step.Set("at", Value{wc.now_ms});
  FB_RETURN_IF_ERROR(records.Insert(std::move(step), wc).status());
  FB_RETURN_IF_ERROR(txn.Commit());
  FB_ASSIGN_OR_RETURN(std::string json, archive.Show("complaints", id));
  return PrintRow(ctx, json);
}

Status RunSurveyTrend(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(std::string json,
                      SurveyTrendJson(*store, ctx.args.Value("from").value_or(""), ctx.args.Value("to").value_or("")));
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "trend"));
  for (const auto& row : doc.GetArray()) {
    ctx.out << row["agent"].GetString() << "  " << row["month"].GetString() << "  " << row["responses"].GetInt64()
            << " responses, mean " << row["mean_score"].GetDouble() << "\n";
  }
  return Status::Ok();
}

Status RunAssistOverdue(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  std::string today;
  if (auto t = ctx.args.Value("today")) {
    FB_RETURN_IF_ERROR(ParseDate(*t).status().WithFieldPrefix("today"));
    today = *t;
  } else {
    today = DateOfMs(store->env().NowMs() + 8LL * 3600 * 1000).ToString();
  }
  const TableSpec& t = *store->registry().Find("claim_assists");
  FB_ASSIGN_OR_RETURN(Statement st, store->Prepare(SelectRowSql(t) +
                                                   " WHERE done_on IS NULL AND due_date < ?1 ORDER BY due_date, id"));
  st.Bind(1, today);
  FB_ASSIGN_OR_RETURN(std::string rows, RowsJson(t, st));
  return PrintRows(ctx, rows, {"claim_id", "step", "due_date"});
}

}  // namespace

void AddRelationsCommands(CommandTable& t) {
  t.push_back({"relation card set", "relation card set CUSTOMER_ID --json '{\"level\":\"key\",\"strength\":4,...}'",
               {"json"}, {}, RunCardSet});
  t.push_back({"relation card show", "relation card show CUSTOMER_ID [--json] [--purpose P]", {"purpose"}, {"json"},
               RunCardShow});
  t.push_back({"relation cards", "relation cards [--level key|general] [--json] [--purpose P]", {"level", "purpose"},
               {"json"}, RunCards});
  AddCrud(t, {"relation log", "relationship_logs", "customer", {"occurred_on", "kind", "summary"}});
  AddCrud(t, {"relation eval", "relationship_evaluations", "customer", {"period", "total", "status", "reviewed_by"}});
  t.push_back({"relation eval approve", "relation eval approve EVALUATION_ID [--feedback TEXT] [--json]",
               {"feedback"}, {"json"}, [](Context& ctx) { return RunReview(ctx, true); }});
  t.push_back({"relation eval reject", "relation eval reject EVALUATION_ID --feedback TEXT [--json]", {"feedback"},
               {"json"}, [](Context& ctx) { return RunReview(ctx, false); }});
  AddCrud(t, {"holding", "investment_holdings", "customer", {"product", "purchase_date", "amount", "risk_preference"}});
  AddCrud(t, {"event", "events", "", {"event_date", "kind", "title"}});
  t.push_back({"event invite", "event invite EVENT_ID CUSTOMER_ID [--status S] [--json]", {"status"}, {"json"},
               RunInvite});
  t.push_back({"event attendance", "event attendance EVENT_ID [--json]", {}, {"json"}, RunAttendance});
  AddCrud(t, {"invitation", "event_invitations", "customer", {"event_id", "status", "guests"}});

  AddCrud(t, {"complaint", "complaints", "customer", {"severity", "status", "sla_deadline", "category"}});
  for (auto& c : t) {
    if (c.words == "complaint list") {
      c.usage = "complaint list [CUSTOMER_ID] [--status S] [--overdue [--now TIME]] [--json] [--purpose P]";
      c.value_flags = {"status", "now", "purpose"};
      c.switch_flags = {"json", "overdue"};
      c.run = RunComplaintList;
    }
  }
  AddCrud(t, {"complaint step", "complaint_steps", "complaint", {"at", "action", "agent"}});
  t.push_back({"complaint escalate", "complaint escalate [--now TIME] [--json]", {"now"}, {"json"},
               RunComplaintEscalate});
  t.push_back({"complaint resolve",
               "complaint resolve COMPLAINT_ID --resolution TEXT [--satisfaction 1-5] [--now TIME] [--json]",
               {"resolution", "satisfaction", "now"}, {"json"}, RunComplaintResolve});
  AddCrud(t, {"survey template", "survey_templates", "", {"name", "active"}});
  AddCrud(t, {"survey", "survey_responses", "customer", {"answered_at", "agent", "score"}});
  t.push_back({"survey trend", "survey trend [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]", {"from", "to"}, {"json"},
               RunSurveyTrend});
  AddCrud(t, {"assist", "claim_assists", "claim", {"step", "due_date", "done_on"}});
  t.push_back({"assist overdue", "assist overdue [--today YYYY-MM-DD] [--json]", {"today"}, {"json"},
               RunAssistOverdue});
}

}  // namespace fieldbook::cli
