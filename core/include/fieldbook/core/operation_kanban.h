// The kanban (看板): what was planned for a day, week or month, what was done, what is
// overdue, quota progress and the contact achievement rate (联络达成率 = done ÷ planned).
//
// Planned contacts of a period are the tasks due in it plus the revisits due by the end
// of it (counted from the last contact before it starts, by the customer's tier rhythm);
// a revisit is done when the customer was contacted during the period. Quota targets are
// the daily quota times the working days of the period (WorkingDays).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

enum class KanbanPeriod { kDay, kWeek, kMonth };

struct KanbanQuery {
  KanbanPeriod period = KanbanPeriod::kDay;
  Date date;          // a day in the period; also "today" for what is overdue
  bool team = false;  // every agent whose rows the device holds, not only the profile's
};

struct Progress {
  int64_t done = 0;
  int64_t target = 0;
};

struct AgentBoard {
  std::string agent;
  int64_t tasks_planned = 0, tasks_done = 0, tasks_overdue = 0;
  int64_t revisits_planned = 0, revisits_done = 0, revisits_overdue = 0;
  Progress prospects, visits, calls;
  int64_t contacts_planned() const { return tasks_planned + revisits_planned; }
  int64_t contacts_done() const { return tasks_done + revisits_done; }
  // done ÷ planned; nullopt when nothing was planned.
  std::optional<double> contact_rate() const;
};

struct Kanban {
  KanbanQuery query;
  Date from, to;
  int working_days = 0;
  std::vector<AgentBoard> agents;  // sorted by agent
  AgentBoard total;                // agent "*": the sum over agents
};

// The period of `period` containing `date`: the day, Monday to Sunday, or the month.
void KanbanPeriodRange(KanbanPeriod period, const Date& date, Date* from, Date* to);
Result<Kanban> BuildKanban(Store& store, const KanbanQuery& query);
std::string KanbanJson(const Kanban& kanban);

}  // namespace fieldbook
