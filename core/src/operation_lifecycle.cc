// The customer lifecycle: lead -> first_deal -> repeat -> mature -> redevelop -> left.
//
// Facts move a customer (AdvanceLifecycle), the agent moves one by hand (MoveLifecycle);
// every move is a lifecycle_events row. A move by hand sticks: a fact moves the customer
// again only when it happened after the agent's move (M below, the time of the latest
// manual move; T the time of the latest move of any kind):
//   lead       -> first_deal  first_policy        a policy, created after M
//   first_deal -> repeat      second_policy       a second policy, created after M
//   redevelop,
//   left       -> repeat/first_deal new_policy    an active policy created after T
//   repeat     -> mature      tenure              first policy effective mature_years ago, after M
//   first_deal,
//   repeat,
//   mature     -> left        all_policies_ended  no policy pending, in force or in grace, and
//                                                 one lapsed/surrendered/terminated after M
//   first_deal,
//   repeat,
//   mature     -> redevelop   no_contact          no contact for no_contact_months since
//                                                 max(last contact, M, first policy)
//   lead       -> left        no_contact          no contact for no_contact_months since
//                                                 max(last contact, created, M)
// Steps derived from facts get ids derived from (customer, from, to, reason, day), so two
// devices advancing the same customer on the same day record one step.
#include <algorithm>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "operation_facts.h"

namespace fieldbook {
namespace {

struct History {
  int64_t last_any = 0;
  int64_t last_manual = 0;
};

Result<History> LoadHistory(Store& store, std::string_view customer_id) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT MAX(occurred_at), MAX(CASE WHEN reason = 'manual' THEN occurred_at END) "
      "FROM lifecycle_events WHERE customer_id = ?1"));
  st.Bind(1, customer_id);
  FB_ASSIGN_OR_RETURN(bool row, st.Step());
  History h;
  if (row) {
    h.last_any = st.OptInt(0).value_or(0);
    h.last_manual = st.OptInt(1).value_or(0);
  }
  return h;
}

bool Ended(const PolicyFact& p) {
  return p.status == "lapsed" || p.status == "surrendered" || p.status == "terminated";
}

// Whether `months` have passed on `today` since the China day of instant `since`.
bool MonthsPassed(int64_t since, int months, const Date& today) {
  return ChinaDateOfMs(since).AddMonths(months) <= today;
}

struct Step {
  const char* to;
  const char* reason;
};

std::optional<Step> NextStep(const std::string& stage, const CustomerFacts& f, const History& h,
                             const OperationConfig& config, const Date& today) {
  const auto& ps = f.policies;  // ordered by created_at
  const int64_t m = h.last_manual;
  const bool dealt = stage == "first_deal" || stage == "repeat" || stage == "mature";
  if (stage == "lead" && !ps.empty() && ps[0].created_at > m) return Step{"first_deal", "first_policy"};
  if (stage == "first_deal" && ps.size() >= 2 && ps[1].created_at > m) return Step{"repeat", "second_policy"};
  if (stage == "redevelop" || stage == "left") {
    for (const auto& p : ps) {
      if (p.created_at > h.last_any && PolicyActive(p)) {
        return Step{ps.size() >= 2 ? "repeat" : "first_deal", "new_policy"};
      }
    }
  }
  if (dealt && !ps.empty() && std::none_of(ps.begin(), ps.end(), PolicyActive)) {
    int64_t ended_at = 0;
    for (const auto& p : ps) {
      if (Ended(p)) ended_at = std::max(ended_at, p.updated_at);
    }
    if (ended_at > m) return Step{"left", "all_policies_ended"};
  }
  if (stage == "repeat" && !ps.empty()) {
    std::optional<Date> first;
    for (const auto& p : ps) {
      if (p.effective && (!first || *p.effective < *first)) first = p.effective;
    }
    if (first) {
      Date mature_on = first->AddMonths(12 * config.mature_years);
      if (mature_on <= today && ChinaStartOfDayMs(mature_on) > m) return Step{"mature", "tenure"};
    }
  }
  if (dealt) {
    int64_t since = std::max(f.last_contact_ms, m);
    if (!ps.empty()) since = std::max(since, ps[0].created_at);
    if (MonthsPassed(since, config.no_contact_months, today)) return Step{"redevelop", "no_contact"};
  }
  if (stage == "lead") {
    const int64_t since = std::max({f.last_contact_ms, f.created_at, m});
    if (MonthsPassed(since, config.no_contact_months, today)) return Step{"left", "no_contact"};
  }
  return std::nullopt;
}

Status Record(Archive& archive, const LifecycleEvent& e, const WriteContext& ctx) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto str = [&](const std::string& s) { return rapidjson::Value(s.c_str(), a); };
  doc.AddMember("id", str(e.id), a);
  if (!e.from_stage.empty()) doc.AddMember("from_stage", str(e.from_stage), a);
  doc.AddMember("to_stage", str(e.to_stage), a);
  doc.AddMember("reason", str(e.reason), a);
  if (!e.note.empty()) doc.AddMember("note", str(e.note), a);
  doc.AddMember("agent", str(ctx.agent), a);
  doc.AddMember("occurred_at", rapidjson::Value(e.occurred_at), a);
  FB_ASSIGN_OR_RETURN(std::string id, archive.Add("lifecycle_events", ToJson(doc), e.customer_id));
  (void)id;
  rapidjson::Document patch(rapidjson::kObjectType);
  patch.AddMember("lifecycle_stage", rapidjson::Value(e.to_stage.c_str(), patch.GetAllocator()),
                  patch.GetAllocator());
  return archive.Set("customers", e.customer_id, ToJson(patch));
}

Result<std::vector<LifecycleEvent>> AdvanceInTxn(Archive& archive, const OperationConfig& config,
                                                 const WriteContext& ctx, std::string_view customer_id,
                                                 const Date& today) {
  FB_ASSIGN_OR_RETURN(CustomerFacts f, LoadCustomerFacts(archive.store(), customer_id));
  FB_ASSIGN_OR_RETURN(History h, LoadHistory(archive.store(), customer_id));
  std::string stage = f.lifecycle_stage.value_or("lead");
  std::vector<LifecycleEvent> steps;
  // Each stage is entered at most once per run, so the walk always ends.
  for (size_t guard = 0; guard < std::size(kStages); ++guard) {
    auto next = NextStep(stage, f, h, config, today);
    if (!next) break;
    LifecycleEvent e;
    e.customer_id = f.id;
    e.from_stage = stage;
    e.to_stage = next->to;
    e.reason = next->reason;
    e.occurred_at = std::max(ctx.now_ms, h.last_any + 1);
    e.id = DerivedId("lifecycle_events|" + f.id + "|" + e.from_stage + "|" + e.to_stage + "|" + e.reason + "|" +
                     today.ToString());
    FB_ASSIGN_OR_RETURN(bool seen, archive.records().Exists("lifecycle_events", e.id));
    if (seen) break;  // this very step was already taken today (here or on another device)
    FB_RETURN_IF_ERROR(Record(archive, e, ctx));
    h.last_any = e.occurred_at;
    stage = e.to_stage;
    steps.push_back(std::move(e));
  }
  return steps;
}

Result<std::pair<OperationConfig, WriteContext>> Setup(Archive& archive) {
  FB_ASSIGN_OR_RETURN(WriteContext ctx, archive.Context());
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(archive.store(), ctx.team));
  return std::make_pair(std::move(config), std::move(ctx));
}

}  // namespace

Result<std::vector<LifecycleEvent>> AdvanceLifecycle(Archive& archive, std::string_view customer_id,
                                                     const Date& today) {
  FB_ASSIGN_OR_RETURN(auto setup, Setup(archive));
  FB_ASSIGN_OR_RETURN(Transaction txn, archive.store().Begin());
  FB_ASSIGN_OR_RETURN(auto steps, AdvanceInTxn(archive, setup.first, setup.second, customer_id, today));
  FB_RETURN_IF_ERROR(txn.Commit());
  return steps;
}

Result<std::vector<LifecycleEvent>> AdvanceAllLifecycles(Archive& archive, const Date& today) {
  FB_ASSIGN_OR_RETURN(auto setup, Setup(archive));
  FB_ASSIGN_OR_RETURN(Transaction txn, archive.store().Begin());
  std::vector<std::string> ids;
  {
    FB_ASSIGN_OR_RETURN(Statement st, archive.store().Prepare("SELECT id FROM customers ORDER BY id"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ids.push_back(st.String(0));
    }
  }
  std::vector<LifecycleEvent> all;
  for (const auto& id : ids) {
    FB_ASSIGN_OR_RETURN(auto steps, AdvanceInTxn(archive, setup.first, setup.second, id, today));
    for (auto& s : steps) all.push_back(std::move(s));
  }
  FB_RETURN_IF_ERROR(txn.Commit());
  return all;
}

Result<LifecycleEvent> MoveLifecycle(Archive& archive, std::string_view customer_id, std::string_view stage,
                                     std::string_view note) {
  if (std::find(std::begin(kStages), std::end(kStages), stage) == std::end(kStages)) {
    return Status(ErrorCode::kInvalidField,
                  "not a lifecycle stage (lead, first_deal, repeat, mature, redevelop, left): \"" +
                      std::string(stage) + "\"",
                  "stage");
  }
  FB_ASSIGN_OR_RETURN(WriteContext ctx, archive.Context());
  FB_ASSIGN_OR_RETURN(Transaction txn, archive.store().Begin());
  FB_ASSIGN_OR_RETURN(CustomerFacts f, LoadCustomerFacts(archive.store(), customer_id));
  FB_ASSIGN_OR_RETURN(History h, LoadHistory(archive.store(), customer_id));
  const std::string from = f.lifecycle_stage.value_or("lead");
  if (from == stage) {
    return Status(ErrorCode::kInvalidField, "the customer is already at stage " + from, "stage");
  }
  LifecycleEvent e;
  e.id = archive.store().NewId();
  e.customer_id = f.id;
  e.from_stage = from;
  e.to_stage = std::string(stage);
  e.reason = "manual";
  e.note = std::string(note);
  e.occurred_at = std::max(ctx.now_ms, h.last_any + 1);
  FB_RETURN_IF_ERROR(Record(archive, e, ctx));
  FB_RETURN_IF_ERROR(txn.Commit());
  return e;
}

Result<std::vector<LifecycleEvent>> LifecycleHistory(Store& store, std::string_view customer_id) {
  FB_ASSIGN_OR_RETURN(Statement check, store.Prepare("SELECT 1 FROM customers WHERE id = ?1"));
  check.Bind(1, customer_id);
  FB_ASSIGN_OR_RETURN(bool found, check.Step());
  if (!found) return Status(ErrorCode::kNotFound, "no customer with id " + std::string(customer_id), "customer_id");
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT id, customer_id, from_stage, to_stage, reason, note, occurred_at FROM lifecycle_events "
      "WHERE customer_id = ?1 ORDER BY occurred_at, id"));
  st.Bind(1, customer_id);
  std::vector<LifecycleEvent> out;
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.String(0), st.String(1), st.String(2), st.String(3), st.String(4), st.String(5), st.Int(6)});
  }
  return out;
}

std::string LifecycleEventsJson(const std::vector<LifecycleEvent>& events) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& e : events) {
    w.StartObject();
    w.Key("id");
    w.String(e.id.c_str());
    w.Key("customer_id");
    w.String(e.customer_id.c_str());
    w.Key("from_stage");
    if (e.from_stage.empty()) {
      w.Null();
    } else {
      w.String(e.from_stage.c_str());
    }
    w.Key("to_stage");
    w.String(e.to_stage.c_str());
    w.Key("reason");
    w.String(e.reason.c_str());
    w.Key("note");
    w.String(e.note.c_str());
    w.Key("occurred_at");
    w.String(FormatTimestampMs(e.occurred_at).c_str());
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook
