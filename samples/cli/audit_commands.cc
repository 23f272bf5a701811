// Access audit: recording reads of personal data, and `fieldbook audit`.
#include <ostream>

#include "cli.h"
#include "fieldbook/core/audit.h"
#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/json.h"
#include "profile.h"

namespace fieldbook::cli {
namespace {

AccessRecord Record(const Context& ctx, const std::string& action, const std::string& table) {
  AccessRecord r;
  r.action = action;
  r.target = table;
  r.purpose = ctx.args.Value("purpose").value_or("");
  r.channel = "cli";
  return r;
}

bool Personal(Store& store, const std::string& table) {
  const TableSpec* t = store.registry().Find(table);
  return t != nullptr && HoldsPersonalData(*t);
}

Status RunAudit(Context& ctx) {
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  FB_ASSIGN_OR_RETURN(std::string json,
                      ListAccessJson(*store, ctx.args.Value("from").value_or(""), ctx.args.Value("to").value_or("")));
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "audit"));
  if (doc.Empty()) ctx.out << "no access recorded\n";
  for (const auto& row : doc.GetArray()) {
    ctx.out << FormatTimestampMs(row["at"].GetInt64()) << "  " << row["agent"].GetString() << "  " << row["action"].GetString() << " "
            << row["target"].GetString() << " (" << row["row_count"].GetInt64() << ")  purpose "
            << row["purpose"].GetString() << "  via " << row["channel"].GetString() << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddAuditCommand(CommandTable& t) {
  t.push_back({"audit", "audit [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]", {"from", "to"}, {"json"}, RunAudit});
}

Status CheckPurposeArg(const Context& ctx) {
  if (auto p = ctx.args.Value("purpose")) return CheckPurpose(*p);
  return Status::Ok();
}

Status AuditRow(const Context& ctx, Store& store, const std::string& action, const std::string& table,
                const std::string& id) {
  if (!Personal(store, table)) return Status::Ok();
  AccessRecord r = Record(ctx, action, table);
  r.ids.push_back(id);
  return RecordAccess(store, r);
}

Status AuditRows(const Context& ctx, Store& store, const std::string& action, const std::string& table,
                 const std::string& rows_json) {
  if (!Personal(store, table)) return Status::Ok();
  AccessRecord r = Record(ctx, action, table);
  IdsFromRows(rows_json, r);
  return RecordAccess(store, r);
}

Status AuditExport(const Context& ctx, Store& store) {
  AccessRecord r = Record(ctx, "export", "all");
  r.count = 0;
  for (const TableSpec& t : store.registry().tables()) {
    if (!HoldsPersonalData(t)) continue;
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT count(*) FROM " + QuoteIdent(t.name)));
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) r.count += st.Int(0);
  }
  return RecordAccess(store, r);
}

}  // namespace fieldbook::cli
