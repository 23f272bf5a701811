// Rules of the service-quality tables, and the satisfaction trend.
#include <cmath>
#include <cstdint>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/service_quality.h"
#include "archive_rules.h"

namespace fieldbook {
namespace {

// A child row names the parent's customer: taken from the parent when absent, refused
// when it differs.
Status SameCustomerAs(Store& store, RowValues& row, const char* parent_column, const char* parent_table) {
  auto parent = row.Text(parent_column);
  if (!parent) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Statement st,
                      store.Prepare("SELECT customer_id FROM " + QuoteIdent(parent_table) + " WHERE id = ?1"));
  st.Bind(1, *parent);
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return Status(ErrorCode::kNotFound, "no " + std::string(parent_table) + " row with id " + *parent, parent_column);
  const std::string owner = st.String(0);
  auto customer = row.Text("customer_id");
  if (!customer) {
    row.Set("customer_id", Value{owner});
  } else if (*customer != owner) {
    return Status(ErrorCode::kInvalidField, "belongs to another customer than " + *parent, "customer_id");
  }
  return Status::Ok();
}

Status ComplaintRule(Store&, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  row.SetDefault("status", Value{std::string("open")});
  row.SetDefault("handler", Value{ctx.agent});
  FB_RETURN_IF_ERROR(InRange(row, "satisfaction", 1, 5));
  auto severity = row.Text("severity");
  auto received = row.Int("received_at");
  if (severity && received) {
    FB_ASSIGN_OR_RETURN(int64_t deadline, ComplaintSlaDeadline(*severity, *received));
    auto given = row.Int("sla_deadline");
    const bool recompute = before == nullptr || before->Text("severity") != severity ||
                           before->Int("received_at") != received;
    if (recompute || !given) row.Set("sla_deadline", Value{deadline});
    else if (given != before->Int("sla_deadline")) {
      return Status(ErrorCode::kReadOnlyField, "is computed from severity and received_at", "sla_deadline");
    }
  }
  const std::string status = row.Text("status").value_or("open");
  if (status == "resolved" || status == "closed") {
    if (!row.Text("resolution")) return Status(ErrorCode::kMissingField, "is required to resolve a complaint", "resolution");
    row.SetDefault("resolved_at", Value{ctx.now_ms});
    if (!row.Int("resolved_at")) row.Set("resolved_at", Value{ctx.now_ms});
  }
  if (row.Int("satisfaction") && status != "resolved" && status != "closed") {
    return Status(ErrorCode::kInvalidField, "is asked once the complaint is resolved", "satisfaction");
  }
  return Status::Ok();
}

Status ComplaintStepRule(Store& store, RowValues& row, const RowValues*, const WriteContext& ctx) {
  row.SetDefault("agent", Value{ctx.agent});
  row.SetDefault("at", Value{ctx.now_ms});
  return SameCustomerAs(store, row, "complaint_id", "complaints");
}

// The template's questions: key -> highest score.
Result<std::map<std::string, int64_t>> TemplateScales(Store& store, const std::string& template_id) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT questions FROM survey_templates WHERE id = ?1"));
  st.Bind(1, template_id);
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return Status(ErrorCode::kNotFound, "no survey template with id " + template_id, "template_id");
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(st.Text(0), "questions"));
  std::map<std::string, int64_t> scales;
  for (const auto& q : doc.GetArray()) {
    if (q.IsObject() && q.HasMember("key") && q["key"].IsString()) {
      scales[q["key"].GetString()] = q.HasMember("max") && q["max"].IsInt() ? q["max"].GetInt() : 5;
    }
  }
  return scales;
}

Status SurveyTemplateRule(Store& store, RowValues& row, const RowValues*, const WriteContext& ctx) {
  row.SetDefault("owner_agent", Value{ctx.agent});
  if (!ctx.team.empty()) row.SetDefault("team", Value{ctx.team});
  row.SetDefault("active", Value{int64_t{1}});
  auto questions = row.Text("questions");
  if (!questions) return Status::Ok();
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(*questions, "questions"));
  if (doc.Empty()) return Status(ErrorCode::kInvalidField, "needs at least one question", "questions");
  std::map<std::string, int> seen;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const std::string field = "questions[" + std::to_string(i) + "]";
    const auto& q = doc[i];
    if (!q.IsObject() || !q.HasMember("key") || !q["key"].IsString() || q["key"].GetStringLength() == 0) {
      return Status(ErrorCode::kInvalidField, "must be an object with a non-empty \"key\"", field);
    }
    if (!q.HasMember("text") || !q["text"].IsString()) return Status(ErrorCode::kMissingField, "is required", field + ".text");
    if (q.HasMember("max") && (!q["max"].IsInt() || q["max"].GetInt() < 1 || q["max"].GetInt() > 100)) {
      return Status(ErrorCode::kInvalidField, "must be an integer from 1 to 100", field + ".max");
    }
    if (seen[q["key"].GetString()]++) return Status(ErrorCode::kInvalidField, "repeats a key", field + ".key");
  }
  return Status::Ok();
}

Status SurveyResponseRule(Store& store, RowValues& row, const RowValues*, const WriteContext& ctx) {
  row.SetDefault("agent", Value{ctx.agent});
  row.SetDefault("answered_at", Value{ctx.now_ms});
  auto template_id = row.Text("template_id");
  auto answers = row.Text("answers");
  if (!template_id || !answers) return Status::Ok();
  FB_ASSIGN_OR_RETURN(auto scales, TemplateScales(store, *template_id));
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(*answers, "answers"));
  int64_t got = 0, best = 0;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string key = it->name.GetString();
    const std::string field = "answers." + key;
    auto scale = scales.find(key);
    if (scale == scales.end()) return Status(ErrorCode::kUnknownField, "the template has no such question", field);
    if (!it->value.IsInt64() || it->value.GetInt64() < 0 || it->value.GetInt64() > scale->second) {
      return Status(ErrorCode::kInvalidField, "must be an integer from 0 to " + std::to_string(scale->second), field);
    }
    got += it->value.GetInt64();
    best += scale->second;
  }
  if (best == 0) return Status(ErrorCode::kInvalidField, "answers no question", "answers");
  row.Set("score", Value{std::round(1000.0 * static_cast<double>(got) / static_cast<double>(best)) / 10.0});
  return Status::Ok();
}

Status ClaimAssistRule(Store& store, RowValues& row, const RowValues*, const WriteContext& ctx) {
  row.SetDefault("agent", Value{ctx.agent});
  return SameCustomerAs(store, row, "claim_id", "claims");
}

}  // namespace

void AddServiceQualityRules(std::map<std::string, TableRule, std::less<>>& rules) {
  rules.emplace("complaints", ComplaintRule);
  rules.emplace("complaint_steps", ComplaintStepRule);
  rules.emplace("survey_templates", SurveyTemplateRule);
  rules.emplace("survey_responses", SurveyResponseRule);
  rules.emplace("claim_assists", ClaimAssistRule);
}

Result<std::string> SurveyTrendJson(Store& store, std::string_view from, std::string_view to) {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  if (!from.empty()) {
    auto d = ParseDate(from);
    if (!d.ok()) return Status(ErrorCode::kInvalidField, "must be a date YYYY-MM-DD", "from");
    lo = MsOfDate(*d) - 8 * 3600 * 1000;  // midnight in UTC+8
  }
  if (!to.empty()) {
    auto d = ParseDate(to);
    if (!d.ok()) return Status(ErrorCode::kInvalidField, "must be a date YYYY-MM-DD", "to");
    hi = MsOfDate(d->AddDays(1)) - 8 * 3600 * 1000 - 1;
  }
  // Months in UTC+8, as agents see them.
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT coalesce(agent, ''), strftime('%Y-%m', (answered_at + 28800000) / 1000, 'unixepoch') AS month, "
      "count(*), avg(score), min(score), max(score) FROM survey_responses "
      "WHERE answered_at BETWEEN ?1 AND ?2 AND score IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"));
  st.Bind(1, lo).Bind(2, hi);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    w.StartObject();
    w.Key("agent");
    w.String(st.String(0).c_str());
    w.Key("month");
    w.String(st.String(1).c_str());
    w.Key("responses");
    w.Int64(st.Int(2));
    w.Key("mean_score");
    w.Double(std::round(st.Double(3) * 10.0) / 10.0);
    w.Key("min_score");
    w.Double(st.Double(4));
    w.Key("max_score");
    w.Double(st.Double(5));
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook
