// SLA deadlines in working time, and the escalation of overdue complaints.
#include <algorithm>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/service_quality.h"

namespace fieldbook {
namespace {

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kUtcOffset = 8 * kHour;  // China Standard Time
constexpr int64_t kOpen = 9 * kHour;       // 09:00 local
constexpr int64_t kClose = 18 * kHour;     // 18:00 local

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsWorkingDay(int64_t local_day) { return Date::FromDays(local_day).Weekday() < 5; }

}  // namespace

int64_t AddWorkingHours(int64_t start_ms, int64_t hours) {
  int64_t local = start_ms + kUtcOffset;
  int64_t day = FloorDiv(local, kDay);
  int64_t in_day = local - day * kDay;
  // Move to the next moment of working time.
  if (in_day >= kClose) ++day, in_day = kOpen;
  if (in_day < kOpen) in_day = kOpen;
  while (!IsWorkingDay(day)) ++day, in_day = kOpen;
  int64_t remaining = hours * kHour;
  for (;;) {
    const int64_t available = kClose - in_day;
    if (remaining <= available) {
      in_day += remaining;
      break;
    }
    remaining -= available;
    do ++day; while (!IsWorkingDay(day));
    in_day = kOpen;
  }
  return day * kDay + in_day - kUtcOffset;
}

Result<int64_t> SlaWorkingHours(std::string_view severity) {
  if (severity == "critical") return int64_t{4};
  if (severity == "high") return int64_t{9};
  if (severity == "medium") return int64_t{27};
  if (severity == "low") return int64_t{45};
  return Status(ErrorCode::kInvalidField, "must be one of low, medium, high, critical", "severity");
}

Result<int64_t> ComplaintSlaDeadline(std::string_view severity, int64_t received_at_ms) {
  FB_ASSIGN_OR_RETURN(int64_t hours, SlaWorkingHours(severity));
  return AddWorkingHours(received_at_ms, hours);
}

Result<std::vector<std::string>> EscalateOverdueComplaints(Records& records, const WriteContext& ctx) {
  Store& store = records.store();
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT id, customer_id, severity, sla_deadline, escalated_at, coalesce(escalation_level, 0) FROM complaints "
      "WHERE status IN ('open', 'in_progress', 'escalated') AND sla_deadline IS NOT NULL AND sla_deadline < ?1 "
      "ORDER BY sla_deadline, id"));
  st.Bind(1, ctx.now_ms);
  struct Due {
    std::string id, customer_id;
    int64_t level;
  };
  std::vector<Due> due;
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (!st.IsNull(4)) {
      FB_ASSIGN_OR_RETURN(int64_t hours, SlaWorkingHours(st.Text(2)));
      if (AddWorkingHours(st.Int(4), hours) >= ctx.now_ms) continue;  // escalated recently enough
    }
    due.push_back({st.String(0), st.String(1), st.Int(5)});
  }
  st.Reset();
  std::vector<std::string> out;
  for (const Due& d : due) {
    RowValues patch(records.Table("complaints"));
    patch.Set("status", Value{std::string("escalated")});
    patch.Set("escalation_level", Value{d.level + 1});
    patch.Set("escalated_at", Value{ctx.now_ms});
    FB_RETURN_IF_ERROR(records.Update("complaints", d.id, patch, ctx));
    RowValues step(records.Table("complaint_steps"));
    step.Set("customer_id", Value{d.customer_id});
    step.Set("complaint_id", Value{d.id});
    step.Set("action", Value{std::string("escalated")});
    step.Set("at", Value{ctx.now_ms});
    step.Set("agent", Value{ctx.agent});
    step.Set("note", Value{"overdue: escalated to level " + std::to_string(d.level + 1)});
    FB_RETURN_IF_ERROR(records.Insert(std::move(step), ctx).status());
    out.push_back(d.id);
  }
  FB_RETURN_IF_ERROR(txn.Commit());
  return out;
}

}  // namespace fieldbook
