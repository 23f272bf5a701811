// Report methods: "report" (composition, abc, rfm, effect) and "audit.list"; the
// relationship and service-quality tables as record groups; the access audit of reads.
#include "fieldbook/core/audit.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/core/reports.h"
#include "fieldbook/core/service_quality.h"
#include "methods.h"

namespace fieldbook::platform {
namespace {

Result<std::string> Report(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"name", "from", "to", "team", "details"}));
  FB_ASSIGN_OR_RETURN(std::string name, args::RequiredString(a, "name"));
  ReportOptions options;
  FB_ASSIGN_OR_RETURN(options.from, args::OptionalString(a, "from"));
  FB_ASSIGN_OR_RETURN(options.to, args::OptionalString(a, "to"));
  FB_ASSIGN_OR_RETURN(options.team, args::OptionalBool(a, "team", false));
  FB_ASSIGN_OR_RETURN(options.details, args::OptionalBool(a, "details", true));
  return RunReport(c.store, name, options);
}

Result<std::string> AuditList(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"from", "to"}));
  FB_ASSIGN_OR_RETURN(std::string from, args::OptionalString(a, "from"));
  FB_ASSIGN_OR_RETURN(std::string to, args::OptionalString(a, "to"));
  return ListAccessJson(c.store, from, to);
}

Result<std::string> CardSet(MethodContext& c, const rapidjson::Value& a) {
  FB_ASSIGN_OR_RETURN(std::string customer, args::RequiredString(a, "customer_id"));
  rapidjson::Document fields;
  fields.CopyFrom(a, fields.GetAllocator());
  fields.RemoveMember("customer_id");
  FB_ASSIGN_OR_RETURN(WriteContext wc, c.archive.Context());
  FB_ASSIGN_OR_RETURN(bool exists, c.archive.records().Exists("customers", customer));
  if (!exists) return Status(ErrorCode::kNotFound, "no customer with id " + customer, "customer_id");
  FB_ASSIGN_OR_RETURN(Transaction txn, c.store.Begin());
  FB_ASSIGN_OR_RETURN(std::string id, SetRelationshipCard(c.archive.records(), customer, ToJson(fields), wc));
  FB_RETURN_IF_ERROR(txn.Commit());
  return IdJson(id);
}

Result<std::string> Review(MethodContext& c, const rapidjson::Value& a, bool approve) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"id", "feedback"}));
  FB_ASSIGN_OR_RETURN(std::string id, args::RequiredString(a, "id"));
  FB_ASSIGN_OR_RETURN(std::string feedback, args::OptionalString(a, "feedback"));
  if (!approve && feedback.empty()) return Status(ErrorCode::kMissingField, "a rejection needs feedback", "feedback");
  FB_ASSIGN_OR_RETURN(WriteContext wc, c.archive.Context());
  FB_ASSIGN_OR_RETURN(Transaction txn, c.store.Begin());
  FB_RETURN_IF_ERROR(ReviewEvaluation(c.archive.records(), id, approve, feedback, wc));
  FB_RETURN_IF_ERROR(txn.Commit());
  return c.archive.Show("relationship_evaluations", id);
}

Result<std::string> Escalate(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {}));
  FB_ASSIGN_OR_RETURN(WriteContext wc, c.archive.Context());
  FB_ASSIGN_OR_RETURN(std::vector<std::string> ids, EscalateOverdueComplaints(c.archive.records(), wc));
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("escalated");
  w.StartArray();
  for (const auto& id : ids) w.String(id.c_str());
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> SurveyTrend(MethodContext& c, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {"from", "to"}));
  FB_ASSIGN_OR_RETURN(std::string from, args::OptionalString(a, "from"));
  FB_ASSIGN_OR_RETURN(std::string to, args::OptionalString(a, "to"));
  return SurveyTrendJson(c.store, from, to);
}

}  // namespace

Status AuditMethodRead(MethodContext& c, const rapidjson::Value& a, const std::string& action,
                       const std::string& table, const std::string& id_or_rows, bool rows) {
  const TableSpec* t = c.store.registry().Find(table);
  if (t == nullptr || !HoldsPersonalData(*t)) return Status::Ok();
  AccessRecord r;
  r.action = action;
  r.target = table;
  r.channel = "api";
  FB_ASSIGN_OR_RETURN(r.purpose, args::OptionalString(a, "purpose"));
  if (rows) IdsFromRows(id_or_rows, r);
  else r.ids.push_back(id_or_rows);
  return RecordAccess(c.store, r);
}

Status CheckPurposeKey(const rapidjson::Value& a) {
  FB_ASSIGN_OR_RETURN(std::string purpose, args::OptionalString(a, "purpose"));
  return purpose.empty() ? Status::Ok() : CheckPurpose(purpose);
}

Status AuditMethodExport(MethodContext& c, const rapidjson::Value& a) {
  AccessRecord r;
  r.action = "export";
  r.target = "all";
  r.channel = "api";
  r.count = 0;
  FB_ASSIGN_OR_RETURN(r.purpose, args::OptionalString(a, "purpose"));
  for (const TableSpec& t : c.store.registry().tables()) {
    if (!HoldsPersonalData(t)) continue;
    FB_ASSIGN_OR_RETURN(Statement st, c.store.Prepare("SELECT count(*) FROM " + QuoteIdent(t.name)));
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) r.count += st.Int(0);
  }
  return RecordAccess(c.store, r);
}

void AddReportMethods(MethodTableMap& t) {
  t.emplace("report", Report);
  t.emplace("audit.list", AuditList);
  // A card is created or updated by its customer's id (one card per customer).
  t.erase("relation.card.add");
  t["relation.card.set"] = CardSet;
  t.emplace("relation.eval.approve", [](MethodContext& c, const rapidjson::Value& a) { return Review(c, a, true); });
  t.emplace("relation.eval.reject", [](MethodContext& c, const rapidjson::Value& a) { return Review(c, a, false); });
  t.emplace("complaint.escalate", Escalate);
  t.emplace("survey.trend", SurveyTrend);
}

}  // namespace fieldbook::platform
