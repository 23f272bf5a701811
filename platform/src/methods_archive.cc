// Archive methods: customer, family, policy, claim, roster, role, consent, visit and task
// records, the customer archive, import, export and the profile.
#include <sstream>

#include "fieldbook/core/audit.h"
#include "fieldbook/core/pinyin.h"
#include "fieldbook/core/records.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/sync/change_capture.h"
#include "methods.h"

namespace fieldbook::platform {
namespace {

// A group of methods over one archive table.
struct Group {
  const char* name;   // "family"
  const char* table;  // "family_members"
};

constexpr Group kGroups[] = {
    {"customer", "customers"}, {"family", "family_members"}, {"policy", "policies"},
    {"claim", "claims"},       {"roster", "group_members"},  {"role", "policy_roles"},
    {"consent", "consents"},   {"visit", "visits"},          {"task", "tasks"},
    // relationships and service quality
    {"relation.card", "relationship_cards"}, {"relation.log", "relationship_logs"},
    {"relation.eval", "relationship_evaluations"}, {"holding", "investment_holdings"},
    {"event", "events"}, {"invitation", "event_invitations"}, {"complaint", "complaints"},
    {"complaint.step", "complaint_steps"}, {"survey.template", "survey_templates"},
    {"survey", "survey_responses"}, {"assist", "claim_assists"},
};

Result<ListQuery> ParseListQuery(Store& store, const std::string& table, const rapidjson::Value& a) {
  if (table == "customers") {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "where", "limit", "offset", "search", "sort", "purpose"}));
  } else if (table == "tasks") {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "where", "limit", "offset", "due_before", "purpose"}));
  } else {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"customer_id", "where", "limit", "offset", "purpose"}));
  }
  ListQuery q;
  q.table = table;
  FB_ASSIGN_OR_RETURN(q.customer_id, args::OptionalString(a, "customer_id"));
  FB_ASSIGN_OR_RETURN(q.search, args::OptionalString(a, "search"));
  FB_ASSIGN_OR_RETURN(q.sort, args::OptionalString(a, "sort"));
  FB_ASSIGN_OR_RETURN(std::string purpose, args::OptionalString(a, "purpose"));
  if (!purpose.empty()) FB_RETURN_IF_ERROR(CheckPurpose(purpose));
  FB_ASSIGN_OR_RETURN(q.due_before, args::OptionalString(a, "due_before"));
  FB_ASSIGN_OR_RETURN(q.limit, args::OptionalInt(a, "limit", 0));
  FB_ASSIGN_OR_RETURN(q.offset, args::OptionalInt(a, "offset", 0));
  auto where = a.FindMember("where");
  if (where != a.MemberEnd() && !where->value.IsNull()) {
    if (!where->value.IsObject()) return Status(ErrorCode::kInvalidField, "must be an object", "where");
    const TableSpec* spec = store.registry().Find(table);
    for (auto it = where->value.MemberBegin(); it != where->value.MemberEnd(); ++it) {
      const std::string column(it->name.GetString(), it->name.GetStringLength());
      const std::string field = "where." + column;
      const ColumnSpec* c = spec ? spec->Find(column) : nullptr;
      if (c == nullptr) return Status(ErrorCode::kUnknownField, "no such field in " + table, field);
      auto value = ColumnValueFromJson(*c, it->value);
      if (!value.ok()) return Status(value.status().code(), value.status().message(), field);
      q.equals.emplace_back(column, std::move(value).value());
    }
  }
  return q;
}

void AddGroup(MethodTableMap& t, const Group& g) {
  const std::string name = g.name;
  const std::string table = g.table;
  t.emplace(name + ".add", [table](MethodContext& c, const rapidjson::Value& a) -> Result<std::string> {
    FB_ASSIGN_OR_RETURN(std::string id, c.archive.Add(table, ToJson(a)));
    return IdJson(id);
  });
  t.emplace(name + ".set", [table](MethodContext& c, const rapidjson::Value& a) -> Result<std::string> {
    FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
    FB_RETURN_IF_ERROR(c.archive.Set(table, id, ToJson(a)));
    return IdJson(id);
  });
  t.emplace(name + ".show", [table](MethodContext& c, const rapidjson::Value& a) -> Result<std::string> {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id", "purpose"}));
    FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
    FB_RETURN_IF_ERROR(CheckPurposeKey(a));
    FB_ASSIGN_OR_RETURN(std::string json, c.archive.Show(table, id));
    FB_RETURN_IF_ERROR(AuditMethodRead(c, a, "read", table, id, false));
    return json;
  });
  t.emplace(name + ".delete", [table](MethodContext& c, const rapidjson::Value& a) -> Result<std::string> {
    FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id"}));
    FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
    FB_RETURN_IF_ERROR(c.archive.Remove(table, id));
    return IdJson(id);
  });
  t.emplace(name + ".list", [table](MethodContext& c, const rapidjson::Value& a) -> Result<std::string> {
    FB_ASSIGN_OR_RETURN(ListQuery q, ParseListQuery(c.store, table, a));
    FB_ASSIGN_OR_RETURN(std::string json, c.archive.List(q));
    FB_RETURN_IF_ERROR(AuditMethodRead(c, a, q.search.empty() ? "list" : "search", table, json, true));
    return json;
  });
}

Result<std::string> CustomerArchive(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id", "purpose"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
  FB_RETURN_IF_ERROR(CheckPurposeKey(a));
  FB_ASSIGN_OR_RETURN(std::string json, c.archive.CustomerArchive(id));
  FB_RETURN_IF_ERROR(AuditMethodRead(c, a, "read", "customers", id, false));
  return json;
}

Result<std::string> CustomerImport(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"jsonl"}));
  FB_ASSIGN_OR_RETURN(std::string jsonl, args::RequiredString(a, "jsonl"));
  const auto size = static_cast<int64_t>(jsonl.size());
  std::istringstream in(std::move(jsonl));
  FB_ASSIGN_OR_RETURN(ImportReport report, c.archive.ImportJsonl(in, size, nullptr));
  return R"({"inserted":)" + std::to_string(report.inserted) + R"(,"updated":)" + std::to_string(report.updated) +
         R"(,"lines":)" + std::to_string(report.lines) + "}";
}

// Writes only mark customers for the search indexes; the next search indexes them. An app
// calls this after a large sync or import, off its UI thread, so that search stays quick.
Result<std::string> CustomerIndex(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {}));
  FB_ASSIGN_OR_RETURN(Statement count, c.store.Prepare("SELECT count(*) FROM fb_customer_fts_stale"));
  FB_ASSIGN_OR_RETURN(bool row, count.Step());
  const int64_t stale = row ? count.Int(0) : 0;
  count.Reset();
  FB_RETURN_IF_ERROR(RefreshSearchIndex(c.store));
  FB_RETURN_IF_ERROR(RefreshPinyinIndex(c.store));
  return R"({"indexed":)" + std::to_string(stale) + "}";
}

Result<std::string> TaskDone(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
  FB_RETURN_IF_ERROR(c.archive.CompleteTask(id));
  return IdJson(id);
}

std::string ProfileJson(const Profile& p, const MethodContext* with_details) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("agent");
  w.String(p.agent.c_str(), static_cast<rapidjson::SizeType>(p.agent.size()));
  w.Key("team");
  w.String(p.team.c_str(), static_cast<rapidjson::SizeType>(p.team.size()));
  if (with_details != nullptr) {
    const std::string& path = with_details->store.path();
    w.Key("path");
    w.String(path.c_str(), static_cast<rapidjson::SizeType>(path.size()));
    w.Key("has_key");
    w.Bool(with_details->has_key);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> ProfileInit(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"agent", "team", "role"}));
  FB_ASSIGN_OR_RETURN(std::string agent, args::RequiredString(a, "agent"));
  FB_ASSIGN_OR_RETURN(std::string team, args::OptionalString(a, "team"));
  FB_ASSIGN_OR_RETURN(std::string role, args::OptionalString(a, "role"));
  FB_RETURN_IF_ERROR(Archive::Init(c.store, agent, team));
  if (!role.empty()) FB_RETURN_IF_ERROR(SetProfileRole(c.store, role));
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(c.store));
  return ProfileJson(profile, nullptr);
}

Result<std::string> ProfileShow(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {}));
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(c.store));
  return ProfileJson(profile, &c);
}

Result<std::string> Export(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"purpose"}));
  FB_RETURN_IF_ERROR(CheckPurposeKey(a));
  FB_ASSIGN_OR_RETURN(std::string json, ExportJson(c.store, sync::SyncedTables(c.store)));
  FB_RETURN_IF_ERROR(AuditMethodExport(c, a));
  return json;
}

}  // namespace

void AddArchiveMethods(MethodTableMap& t) {
  for (const Group& g : kGroups) AddGroup(t, g);
  t.emplace("customer.archive", CustomerArchive);
  t.emplace("customer.import", CustomerImport);
  t.emplace("customer.index", CustomerIndex);
  t.emplace("task.done", TaskDone);
  t.emplace("profile.init", ProfileInit);
  t.emplace("profile.show", ProfileShow);
  t.emplace("export", Export);
}

}  // namespace fieldbook::platform
