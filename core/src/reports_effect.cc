// Effect: contact achievement rate, new information and opportunities, per agent.
#include <sqlite3.h>

#include <climits>
#include <cmath>
#include <map>
#include <optional>
#include <vector>

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

// Follow-ups planned by visits in the period (next_action_date in range), done when the
// customer had a later visit by the end of `to`; credited to the visit's agent, else the
// customer's owner. Both tables are read once in storage order and joined here by id: in
// SQL the join costs a grouped pass, a lookup per visit and a sort (twice as long).
Status FollowUps(Store& store, const Scope& scope, std::map<std::string, AgentEffect>& out) {
  std::map<std::string, uint32_t, std::less<>> names;  // agents: a handful of distinct values
  std::vector<const std::string*> name_of;
  auto intern = [&](std::string_view name) {
    auto it = names.find(name);
    if (it == names.end()) {
      it = names.emplace(std::string(name), static_cast<uint32_t>(name_of.size())).first;
      name_of.push_back(&it->first);
    }
    return it->second;
  };
  IdIndex customers;
  std::vector<uint32_t> owner;  // by customer row: interned owner_agent ("" when NULL)
  {
    FB_ASSIGN_OR_RETURN(const size_t n, CustomerCount(store));
    customers.Reserve(n);
    owner.reserve(n);
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT id, owner_agent FROM customers"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (customers.Add(st.Text(0)) == owner.size()) owner.push_back(intern(st.Text(1)));
    }
  }
  std::vector<int64_t> last(owner.size(), INT64_MIN);  // latest visit by the end of `to`
  struct Planned {
    uint32_t customer;
    uint32_t agent;
    std::optional<int64_t> at;
  };
  std::vector<Planned> planned;
  const std::string from = scope.from.ToString(), to = scope.to.ToString();
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT customer_id, agent, visited_at, next_action_date FROM visits"));
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (st.IsNull(0)) continue;
    const uint32_t c = customers.Find(st.Text(0));
    if (c == IdIndex::kNone) continue;  // as the inner join: a visit to no customer counts nowhere
    const std::optional<int64_t> at = st.OptInt(2);
    if (at && *at <= scope.to_end_ms) last[c] = std::max(last[c], *at);
    if (st.IsNull(3)) continue;
    const std::string_view next = st.Text(3);
    if (next < from || next > to) continue;
    const uint32_t agent = st.IsNull(1) ? owner[c] : intern(st.Text(1));
    if (!scope.team && *name_of[agent] != scope.agent) continue;
    planned.push_back(Planned{c, agent, at});
  }
  for (const Planned& p : planned) {
    AgentEffect& e = out[*name_of[p.agent]];
    ++e.follow_ups_planned;
    if (p.at && last[p.customer] > *p.at) ++e.follow_ups_done;  // INT64_MIN: no visit by `to`
  }
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
  FB_RETURN_IF_ERROR(FollowUps(store, scope, agents));
  const std::string visit_agent = "coalesce(v.agent, c.owner_agent)";
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
  std::string out;
  StringOutput buf(out);
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
  buf.Finish();
  return out;
}

}  // namespace fieldbook::reports
