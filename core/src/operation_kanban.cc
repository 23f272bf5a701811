#include "fieldbook/core/operation_kanban.h"

#include <map>
#include <unordered_map>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "fieldbook/core/operation_calendar.h"

namespace fieldbook {
namespace {

const char* PeriodName(KanbanPeriod p) {
  switch (p) {
    case KanbanPeriod::kDay: return "day";
    case KanbanPeriod::kWeek: return "week";
    case KanbanPeriod::kMonth: return "month";
  }
  return "day";
}

struct VisitFacts {
  int64_t last_before = 0;
  bool during = false;
};

}  // namespace

std::optional<double> AgentBoard::contact_rate() const {
  if (contacts_planned() == 0) return std::nullopt;
  return static_cast<double>(contacts_done()) / static_cast<double>(contacts_planned());
}

void KanbanPeriodRange(KanbanPeriod period, const Date& date, Date* from, Date* to) {
  switch (period) {
    case KanbanPeriod::kDay:
      *from = *to = date;
      return;
    case KanbanPeriod::kWeek:
      *from = date.AddDays(-date.Weekday());
      *to = from->AddDays(6);
      return;
    case KanbanPeriod::kMonth:
      *from = Date{date.year, date.month, 1};
      *to = Date{date.year, date.month, DaysInMonth(date.year, date.month)};
      return;
  }
}

Result<Kanban> BuildKanban(Store& store, const KanbanQuery& q) {
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(store));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(store, profile.team));
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin(TxnMode::kDeferred));
  Kanban k;
  k.query = q;
  KanbanPeriodRange(q.period, q.date, &k.from, &k.to);
  FB_ASSIGN_OR_RETURN(k.working_days, WorkingDays(store, k.from, k.to));
  const int64_t start = ChinaStartOfDayMs(k.from), end = ChinaStartOfDayMs(k.to.AddDays(1));
  const std::string only = q.team ? std::string() : profile.agent;
  std::map<std::string, AgentBoard> boards;
  auto board = [&](const std::string& agent) -> AgentBoard* {
    if (!only.empty() && agent != only) return nullptr;
    AgentBoard& b = boards[agent];
    b.agent = agent;
    return &b;
  };
  if (!only.empty()) board(only);

  {  // tasks due in the period
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT owner_agent, done, due_date FROM tasks WHERE due_date >= ?1 AND due_date <= ?2"));
    st.Bind(1, k.from.ToString()).Bind(2, k.to.ToString());
    const std::string today = q.date.ToString();
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      AgentBoard* b = board(st.String(0));
      if (!b) continue;
      const bool done = st.OptInt(1).value_or(0) == 1;
      ++b->tasks_planned;
      if (done) ++b->tasks_done;
      if (!done && st.Text(2) < today) ++b->tasks_overdue;
    }
  }
  std::unordered_map<std::string, VisitFacts> visits;
  {  // contacts: for revisits, and visits and calls for the quotas
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT v.customer_id, v.visited_at, v.channel, COALESCE(v.agent, c.owner_agent) FROM visits v "
        "JOIN customers c ON c.id = v.customer_id WHERE v.visited_at < ?1"));
    st.Bind(1, end);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const int64_t at = st.Int(1);
      VisitFacts& f = visits[st.String(0)];
      if (at < start) {
        f.last_before = std::max(f.last_before, at);
        continue;
      }
      f.during = true;
      AgentBoard* b = board(st.String(3));
      if (!b) continue;
      const std::string_view channel = st.Text(2);
      if (channel == "visit") ++b->visits.done;
      if (channel == "phone" || channel == "video") ++b->calls.done;
    }
  }
  {  // revisits due and new prospect records
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT id, owner_agent, value_tier, lifecycle_stage, last_contact_at, created_at FROM customers"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      AgentBoard* b = board(st.String(1));
      if (!b) continue;
      const int64_t created = st.OptInt(5).value_or(0);
      if (created >= start && created < end) ++b->prospects.done;
      if (created >= start || st.Text(3) == "left") continue;
      const VisitFacts f = [&] {
        auto it = visits.find(st.String(0));
        return it == visits.end() ? VisitFacts{} : it->second;
      }();
      int64_t last = std::max(created, f.last_before);
      bool during = f.during;
      if (auto contact = st.OptInt(4)) {
        if (*contact < start) last = std::max(last, *contact);
        if (*contact >= start && *contact < end) during = true;
      }
      const std::string tier = st.IsNull(2) ? "general" : st.String(2);
      const Date due = ChinaDateOfMs(last).AddDays(config.Tier(tier).revisit_days);
      if (k.to < due) continue;
      ++b->revisits_planned;
      if (during) {
        ++b->revisits_done;
      } else if (due < q.date) {
        ++b->revisits_overdue;
      }
    }
  }
  for (auto& [agent, b] : boards) {
    FB_ASSIGN_OR_RETURN(Quota quota, LoadQuota(store, config, agent));
    b.prospects.target = int64_t{quota.prospects} * k.working_days;
    b.visits.target = int64_t{quota.visits} * k.working_days;
    b.calls.target = int64_t{quota.calls} * k.working_days;
    AgentBoard& t = k.total;
    t.tasks_planned += b.tasks_planned, t.tasks_done += b.tasks_done, t.tasks_overdue += b.tasks_overdue;
    t.revisits_planned += b.revisits_planned, t.revisits_done += b.revisits_done;
    t.revisits_overdue += b.revisits_overdue;
    for (auto [from, to] : {std::pair{&b.prospects, &t.prospects}, {&b.visits, &t.visits}, {&b.calls, &t.calls}}) {
      to->done += from->done;
      to->target += from->target;
    }
    k.agents.push_back(b);
  }
  k.total.agent = "*";
  FB_RETURN_IF_ERROR(txn.Commit());
  return k;
}

namespace {

void WriteBoard(rapidjson::Writer<rapidjson::StringBuffer>& w, const AgentBoard& b) {
  auto count3 = [&](const char* key, int64_t planned, int64_t done, int64_t overdue) {
    w.Key(key);
    w.StartObject();
    w.Key("planned");
    w.Int64(planned);
    w.Key("done");
    w.Int64(done);
    w.Key("open");
    w.Int64(planned - done);
    w.Key("overdue");
    w.Int64(overdue);
    w.EndObject();
  };
  auto progress = [&](const char* key, const Progress& p) {
    w.Key(key);
    w.StartObject();
    w.Key("done");
    w.Int64(p.done);
    w.Key("target");
    w.Int64(p.target);
    w.EndObject();
  };
  w.StartObject();
  w.Key("agent");
  w.String(b.agent.c_str());
  count3("tasks", b.tasks_planned, b.tasks_done, b.tasks_overdue);
  count3("revisits", b.revisits_planned, b.revisits_done, b.revisits_overdue);
  w.Key("quotas");
  w.StartObject();
  progress("prospects", b.prospects);
  progress("visits", b.visits);
  progress("calls", b.calls);
  w.EndObject();
  w.Key("contacts");
  w.StartObject();
  w.Key("planned");
  w.Int64(b.contacts_planned());
  w.Key("done");
  w.Int64(b.contacts_done());
  w.Key("achievement_rate");
  if (auto r = b.contact_rate()) {
    w.Double(static_cast<double>(static_cast<int64_t>(*r * 10000 + 0.5)) / 10000);
  } else {
    w.Null();
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string KanbanJson(const Kanban& k) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("period");
  w.String(PeriodName(k.query.period));
  w.Key("date");
  w.String(k.query.date.ToString().c_str());
  w.Key("from");
  w.String(k.from.ToString().c_str());
  w.Key("to");
  w.String(k.to.ToString().c_str());
  w.Key("working_days");
  w.Int(k.working_days);
  w.Key("team");
  w.Bool(k.query.team);
  w.Key("agents");
  w.StartArray();
  for (const auto& b : k.agents) WriteBoard(w, b);
  w.EndArray();
  w.Key("total");
  WriteBoard(w, k.total);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook
