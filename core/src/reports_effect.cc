// Effect: contact achievement rate, new information and opportunities, per agent.
#include <sqlite3.h>

#include <cmath>
#include <map>

#include "reports_internal.h"

namespace fieldbook::reports {
namespace {

struct AgentEffect {
  int64_t planned = 0, done = 0;
  int64_t tasks_planned = 0, tasks_done = 0, follow_ups_planned = 0, follow_ups_done = 0;
  int64_t contacts = 0, new_info = 0;
  int64_t opportunities = 0, won = 0;
  int64_t new_policies = 0, new_premium = 0;
};

void WriteEffect(JsonWriter& w, const AgentEffect& e) {
  auto field = [&](const char* k, int64_t v) {
    w.Key(k);
    w.Int64(v);
  };
  field("planned_contacts", e.planned);
  field("done_contacts", e.done);
  w.Key("contact_achievement_rate");
  if (e.planned > 0) w.Double(std::round(10000.0 * static_cast<double>(e.done) / static_cast<double>(e.planned)) / 10000.0);
  else w.Null();
  field("tasks_planned", e.tasks_planned);
  field("tasks_done", e.tasks_done);
  field("follow_ups_planned", e.follow_ups_planned);
  field("follow_ups_done", e.follow_ups_done);
  field("contacts_made", e.contacts);
  field("new_information", e.new_info);
  field("opportunities_found", e.opportunities);
  field("opportunities_won", e.won);
  field("opportunities_pending", e.opportunities - e.won);
  field("new_policies", e.new_policies);
  field("new_premium", e.new_premium);
}

// Runs `sql` (binds: ?1 team, ?2 agent, ?3 from date, ?4 to date, ?5 from ms, ?6 to end
// ms) and adds each row's agent (column 0) counts to the fields given.
Status Collect(Store& store, const Scope& scope, const std::string& sql, std::map<std::string, AgentEffect>& out,
               std::initializer_list<int64_t AgentEffect::*> fields) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
  const int used = sqlite3_bind_parameter_count(st.raw());  // each query uses a prefix of the six
  st.Bind(1, int64_t{scope.team}).Bind(2, scope.agent).Bind(3, scope.from.ToString()).Bind(4, scope.to.ToString());
  if (used >= 5) st.Bind(5, scope.from_ms);
  if (used >= 6) st.Bind(6, scope.to_end_ms);
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    AgentEffect& e = out[st.String(0)];
    int col = 1;
    for (auto f : fields) e.*f += st.Int(col++);
  }
  st.Reset();
  return Status::Ok();
}

}  // namespace

Result<std::string> Effect(Store& store, const Scope& scope) {
  std::map<std::string, AgentEffect> agents;
  if (!scope.team) agents[scope.agent];  // the agent's row even when empty
  // Tasks due in the period.
  FB_RETURN_IF_ERROR(Collect(store, scope,
      // +due_date: a table scan costs at most a pass over the tasks; the due_date index
      // fetches every task in range by rowid, ten times slower once the range holds many.
      "SELECT t.owner_agent, count(*), coalesce(sum(t.done = 1), 0) FROM tasks t "
      "WHERE +t.due_date BETWEEN ?3 AND ?4 AND (?1 OR t.owner_agent = ?2) GROUP BY 1",
      agents, {&AgentEffect::tasks_planned, &AgentEffect::tasks_done}));
  // Follow-ups planned by visits, done when a later visit to the customer happened by `to`.
  const std::string visit_agent = "coalesce(v.agent, c.owner_agent)";
  FB_RETURN_IF_ERROR(Collect(store, scope,
      // A later visit by `to` exists exactly when the customer's last visit by `to` is later:
      // one grouped pass over the visits instead of a search per planned follow-up.
      "SELECT " + visit_agent + ", count(*), coalesce(sum(last.at > v.visited_at), 0) "
      "FROM visits v JOIN customers c ON c.id = v.customer_id "
      "LEFT JOIN (SELECT customer_id, max(visited_at) AS at FROM visits WHERE +visited_at <= ?6 "
      "  GROUP BY +customer_id) last ON last.customer_id = v.customer_id "
      "WHERE v.next_action_date BETWEEN ?3 AND ?4 AND (?1 OR " + visit_agent + " = ?2) GROUP BY 1",
      agents, {&AgentEffect::follow_ups_planned, &AgentEffect::follow_ups_done}));
  // Contacts in the period: information gained, opportunities found and won.
  FB_RETURN_IF_ERROR(Collect(store, scope,
      "SELECT " + visit_agent + ", count(*), coalesce(sum(length(trim(coalesce(v.new_info, ''))) > 0), 0), "
      "coalesce(sum(length(trim(coalesce(v.opportunities, ''))) > 0), 0), "
      "coalesce(sum(length(trim(coalesce(v.opportunities, ''))) > 0 AND EXISTS (SELECT 1 FROM policies p "
      "WHERE p.customer_id = v.customer_id AND p.effective_date <= ?4 "
      "AND p.effective_date >= date((v.visited_at + 28800000) / 1000, 'unixepoch'))), 0) "
      "FROM visits v JOIN customers c ON c.id = v.customer_id WHERE v.visited_at BETWEEN ?5 AND ?6 "
      "AND (?1 OR " + visit_agent + " = ?2) GROUP BY 1",
      agents, {&AgentEffect::contacts, &AgentEffect::new_info, &AgentEffect::opportunities, &AgentEffect::won}));
  // Policies that took effect in the period, credited to the customer's agent.
  FB_RETURN_IF_ERROR(Collect(store, scope,
      "SELECT c.owner_agent, count(*), coalesce(sum(" + std::string(kAnnualPremiumSql) + "), 0) FROM policies p "
      // CROSS JOIN keeps policies outside: walking customers by agent to seek their
      // policies one by one costs several times a scan of the policies.
      "CROSS JOIN customers c ON c.id = p.customer_id WHERE p.effective_date BETWEEN ?3 AND ?4 "
      "AND p.status NOT IN ('pending', 'terminated') AND (?1 OR c.owner_agent = ?2) GROUP BY 1",
      agents, {&AgentEffect::new_policies, &AgentEffect::new_premium}));
  AgentEffect total;
  for (auto& [agent, e] : agents) {
    e.planned = e.tasks_planned + e.follow_ups_planned;
    e.done = e.tasks_done + e.follow_ups_done;
    for (auto f : {&AgentEffect::planned, &AgentEffect::done, &AgentEffect::tasks_planned, &AgentEffect::tasks_done,
                   &AgentEffect::follow_ups_planned, &AgentEffect::follow_ups_done, &AgentEffect::contacts,
                   &AgentEffect::new_info, &AgentEffect::opportunities, &AgentEffect::won,
                   &AgentEffect::new_policies, &AgentEffect::new_premium}) {
      total.*f += e.*f;
    }
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteHeader(w, "effect", scope);
  w.Key("agents");
  w.StartArray();
  for (const auto& [agent, e] : agents) {
    w.StartObject();
    w.Key("agent");
    Str(w, agent);
    WriteEffect(w, e);
    w.EndObject();
  }
  w.EndArray();
  w.Key("total");
  w.StartObject();
  WriteEffect(w, total);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook::reports
