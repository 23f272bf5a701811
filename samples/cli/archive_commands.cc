// Archive commands: init, customer, family, policy, claim, roster, role, consent, visit,
// task, import, export.
#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include "cli.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/relations.h"
#include "profile.h"

namespace fieldbook::cli {
namespace {

// Columns shown by the plain-text list of each table (JSON output shows everything).
const std::map<std::string, std::vector<std::string>>& SummaryColumns() {
  static const std::map<std::string, std::vector<std::string>> columns = {
      {"customers", {"name", "kind", "value_tier", "phones"}},
      {"family_members", {"relation", "name", "birth_date"}},
      {"policies", {"policy_number", "product", "premium", "status", "payment_due_date"}},
      {"policy_roles", {"role", "party_name", "share_percent"}},
      {"group_members", {"name", "status", "joined_on"}},
      {"claims", {"claim_date", "type", "amount", "status"}},
      {"consents", {"purpose", "granted", "channel"}},
      {"visits", {"visited_at", "channel", "purpose", "outcome"}},
      {"tasks", {"due_date", "done", "title"}},
  };
  return columns;
}

std::string Plain(const rapidjson::Value& v) {
  if (v.IsNull()) return "-";
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  return ToJson(v);
}

Status PrintList(Context& ctx, const std::string& table, const std::string& json) {
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "list"));
  const auto& cols = SummaryColumns().at(table);
  for (const auto& row : doc.GetArray()) {
    ctx.out << row["id"].GetString();
    for (const auto& c : cols) ctx.out << "  " << Plain(row[c.c_str()]);
    ctx.out << "\n";
  }
  return Status::Ok();
}

Status PrintObject(Context& ctx, const std::string& json) {
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "record"));
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    if (it->value.IsNull()) continue;
    ctx.out << it->name.GetString() << ": " << Plain(it->value) << "\n";
  }
  return Status::Ok();
}

// The parent id from the first positional argument or --customer / --policy.
std::string ParentId(const Context& ctx, const std::string& parent_flag) {
  if (auto v = ctx.args.Value(parent_flag)) return *v;
  return ctx.args.positional.empty() ? std::string() : ctx.args.positional[0];
}

// A group of commands over one child table: add, list, show, set, delete.
struct Group {
  std::string name;        // "family"
  std::string table;       // "family_members"
  std::string add_verb;    // "add" or "log"
  std::string parent;      // "customer" or "policy"
};

void AddGroup(CommandTable& t, const Group& g) {
  const std::string parent_upper = g.parent == "customer" ? "CUSTOMER_ID" : "POLICY_ID";
  t.push_back({g.name + " " + g.add_verb, g.name + " " + g.add_verb + " " + parent_upper + " --json '{...}'",
               {"json", g.parent}, {}, [g](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
                 const std::string parent = ParentId(ctx, g.parent);
                 if (parent.empty()) return Usage("missing " + g.parent + " id");
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 std::string id;
                 if (g.parent == "policy") {
                   FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
                   doc.RemoveMember("policy_id");
                   doc.AddMember("policy_id", rapidjson::Value(parent.c_str(), doc.GetAllocator()), doc.GetAllocator());
                   FB_ASSIGN_OR_RETURN(id, archive.Add(g.table, ToJson(doc)));
                 } else {
                   FB_ASSIGN_OR_RETURN(id, archive.Add(g.table, json, parent));
                 }
                 ctx.out << id << "\n";
                 return Status::Ok();
               }});
  t.push_back({g.name + " list", g.name + " list [CUSTOMER_ID] [--json] [--purpose P]", {"customer", "limit", "purpose"},
               {"json"}, [g](Context& ctx) -> Status {
                 FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 ListQuery q;
                 q.table = g.table;
                 q.customer_id = ParentId(ctx, "customer");
                 if (auto limit = ctx.args.Value("limit")) q.limit = std::atoi(limit->c_str());
                 FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
                 FB_RETURN_IF_ERROR(AuditRows(ctx, *store, "list", g.table, json));
                 return PrintList(ctx, g.table, json);
               }});
  t.push_back({g.name + " show", g.name + " show ID [--json] [--purpose P]", {"purpose"}, {"json"},
               [g](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 FB_ASSIGN_OR_RETURN(std::string json, archive.Show(g.table, id));
                 FB_RETURN_IF_ERROR(AuditRow(ctx, *store, "read", g.table, id));
                 return PrintObject(ctx, json);
               }});
  t.push_back({g.name + " set", g.name + " set ID --json '{...}'", {"json"}, {}, [g](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 return archive.Set(g.table, id, json);
               }});
  t.push_back({g.name + " delete", g.name + " delete ID", {}, {}, [g](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 return archive.Remove(g.table, id);
               }});
}

Status RunInit(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string agent, RequiredValue(ctx, "agent"));
  const std::string team = ctx.args.Value("team").value_or("");
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx, /*create=*/true));
  FB_RETURN_IF_ERROR(Archive::Init(*store, agent, team));
  if (auto role = ctx.args.Value("role")) FB_RETURN_IF_ERROR(SetProfileRole(*store, *role));
  ctx.out << "initialised " << ctx.db << " for agent " << agent << (team.empty() ? "" : " of team " + team) << "\n";
  return Status::Ok();
}

Status RunCustomerAdd(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(std::string id, archive.Add("customers", json));
  ctx.out << id << "\n";
  return Status::Ok();
}

Status RunCustomerList(Context& ctx) {
  FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  ListQuery q;
  q.search = ctx.args.Value("search").value_or("");
  q.sort = ctx.args.Value("sort").value_or("");
  if (auto limit = ctx.args.Value("limit")) q.limit = std::atoi(limit->c_str());
  if (auto offset = ctx.args.Value("offset")) q.offset = std::atoi(offset->c_str());
  for (const char* column : {"value_tier", "needs_segment", "lifecycle_stage", "kind", "owner_agent"}) {
    if (auto v = ctx.args.Value(column)) q.equals.emplace_back(column, Value{*v});
  }
  FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
  FB_RETURN_IF_ERROR(AuditRows(ctx, *store, q.search.empty() ? "list" : "search", "customers", json));
  return PrintList(ctx, "customers", json);
}

Status RunCustomerArchive(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "CUSTOMER_ID"));
  FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  FB_ASSIGN_OR_RETURN(std::string json, archive.CustomerArchive(id));
  FB_RETURN_IF_ERROR(AuditRow(ctx, *store, "read", "customers", id));
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "archive"));
  ctx.out << "customer " << doc["customer"]["id"].GetString() << "\n";
  for (auto it = doc["customer"].MemberBegin(); it != doc["customer"].MemberEnd(); ++it) {
    if (!it->value.IsNull() && std::string_view(it->name.GetString()) != "id") {
      ctx.out << "  " << it->name.GetString() << ": " << Plain(it->value) << "\n";
    }
  }
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    if (!it->value.IsArray() || it->value.Empty()) continue;
    const std::string table = it->name.GetString();
    ctx.out << table << " (" << it->value.Size() << ")\n";
    for (const auto& row : it->value.GetArray()) {
      ctx.out << "  " << row["id"].GetString();
      for (const auto& c : SummaryColumns().at(table)) ctx.out << "  " << Plain(row[c.c_str()]);
      ctx.out << "\n";
    }
  }
  return Status::Ok();
}

Status RunTaskList(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  ListQuery q;
  q.table = "tasks";
  if (ctx.args.Has("open")) q.equals.emplace_back("done", Value{int64_t{0}});
  if (ctx.args.Has("done")) q.equals.emplace_back("done", Value{int64_t{1}});
  if (auto c = ctx.args.Value("customer")) q.equals.emplace_back("customer_id", Value{*c});
  q.due_before = ctx.args.Value("due").value_or("");
  FB_ASSIGN_OR_RETURN(std::string json, archive.List(q));
  return PrintList(ctx, "tasks", json);
}

Status RunImport(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string path, RequiredValue(ctx, "jsonl"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kInvalidArgument, "cannot read " + path, "jsonl");
  struct stat st {};
  const int64_t total = ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  Archive archive(*store);
  const bool tty = StderrIsTty();
  ProgressFn progress;
  if (tty) progress = [&](int64_t done, int64_t all) { DrawProgress(ctx.err, "import", done, all); };
  auto report = archive.ImportJsonl(in, total, progress);
  if (tty) ctx.err << "\n";
  if (!report.ok()) return Status(report.status().code(), report.status().message() + " (nothing was imported)",
                                  report.status().field());
  if (ctx.args.Has("json")) {
    ctx.out << R"({"inserted":)" << report->inserted << R"(,"updated":)" << report->updated << R"(,"lines":)"
            << report->lines << "}\n";
  } else {
    ctx.out << "imported " << report->inserted << " new and " << report->updated << " updated customers from "
            << report->lines << " lines\n";
  }
  return Status::Ok();
}

Status RunExport(Context& ctx) {
  FB_RETURN_IF_ERROR(CheckPurposeArg(ctx));
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(std::string json, ExportJson(*store, SyncedTables(*store)));
  FB_RETURN_IF_ERROR(AuditExport(ctx, *store));
  ctx.out << json << "\n";
  return Status::Ok();
}

}  // namespace

void AddArchiveCommands(CommandTable& t) {
  t.push_back({"init", "init --agent AGENT_ID [--team TEAM_ID] [--role agent|lead|admin]", {"agent", "team", "role"}, {},
               RunInit});
  t.push_back({"customer add", "customer add --json '{\"name\":\"张三\",...}'", {"json"}, {}, RunCustomerAdd});
  t.push_back({"customer list",
               "customer list [--json] [--search TEXT|PINYIN] [--sort name] [--value_tier T] [--limit N] [--purpose P]",
               {"search", "limit", "offset", "value_tier", "needs_segment", "lifecycle_stage", "kind", "owner_agent",
                "sort", "purpose"},
               {"json"}, RunCustomerList});
  t.push_back({"customer archive", "customer archive CUSTOMER_ID [--json] [--purpose P]", {"purpose"}, {"json"},
               RunCustomerArchive});
  Group customers{"customer", "customers", "add", "customer"};
  // customer show/set/delete come from the generic group (its add/list are replaced above).
  CommandTable generic;
  AddGroup(generic, customers);
  for (auto& c : generic) {
    if (c.words != "customer add" && c.words != "customer list") t.push_back(std::move(c));
  }
  AddGroup(t, {"family", "family_members", "add", "customer"});
  AddGroup(t, {"policy", "policies", "add", "customer"});
  AddGroup(t, {"claim", "claims", "add", "policy"});
  AddGroup(t, {"roster", "group_members", "add", "policy"});
  AddGroup(t, {"role", "policy_roles", "add", "policy"});
  AddGroup(t, {"consent", "consents", "add", "customer"});
  AddGroup(t, {"visit", "visits", "log", "customer"});
  t.push_back({"task add", "task add --json '{\"title\":...,\"due_date\":\"YYYY-MM-DD\"}'", {"json"}, {},
               [](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string json, RequiredValue(ctx, "json"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 FB_ASSIGN_OR_RETURN(std::string id, archive.Add("tasks", json));
                 ctx.out << id << "\n";
                 return Status::Ok();
               }});
  t.push_back({"task list", "task list [--open|--done] [--due YYYY-MM-DD] [--customer ID] [--json]",
               {"due", "customer"}, {"json", "open", "done"}, RunTaskList});
  t.push_back({"task done", "task done ID", {}, {}, [](Context& ctx) -> Status {
                 FB_ASSIGN_OR_RETURN(std::string id, Positional(ctx, 0, "ID"));
                 FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
                 Archive archive(*store);
                 return archive.CompleteTask(id);
               }});
  CommandTable tasks;
  AddGroup(tasks, {"task", "tasks", "add", "customer"});
  for (auto& c : tasks) {
    if (c.words == "task show" || c.words == "task set" || c.words == "task delete") t.push_back(std::move(c));
  }
  t.push_back({"import", "import --jsonl FILE [--json]", {"jsonl"}, {"json"}, RunImport});
  t.push_back({"export", "export --json [--purpose P]", {"purpose"}, {"json"}, RunExport});
}

}  // namespace fieldbook::cli
