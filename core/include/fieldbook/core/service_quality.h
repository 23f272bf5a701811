// Service quality: complaints with an SLA, satisfaction surveys, claims assistance.
//
// Working time (for SLA deadlines) is Monday to Friday, 09:00-18:00 China Standard Time
// (UTC+8, no daylight saving). A complaint's deadline is its received time plus the
// working hours its severity allows, counting only working time: a deadline that would
// fall on or cross a weekend moves past it. One working day is nine working hours, so
// "1 working day" from Friday 15:00 is Monday 15:00.
//
//   severity   allowed               escalation
//   critical   4 working hours       overdue and unresolved: escalated one level,
//   high       1 working day (9 h)   and again each further SLA period it stays
//   medium     3 working days        unresolved after the last escalation
//   low        5 working days
//
// Public holidays are not subtracted (they are announced yearly and are not data here).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/records.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"

namespace fieldbook {

// complaints, complaint_steps, survey_templates, survey_responses, claim_assists
// (since schema version 2).
std::vector<TableSpec> ServiceQualityTables();

// `start_ms` plus `hours` of working time (UTC milliseconds in and out).
int64_t AddWorkingHours(int64_t start_ms, int64_t hours);
// Working hours a complaint of this severity may stay unresolved; kInvalidField
// (field "severity") for an unknown severity.
Result<int64_t> SlaWorkingHours(std::string_view severity);
Result<int64_t> ComplaintSlaDeadline(std::string_view severity, int64_t received_at_ms);

// Escalates every unresolved complaint whose deadline (or last escalation plus one more
// SLA period) has passed at ctx.now_ms: status "escalated", escalation_level + 1, a
// complaint step recording it. Returns the escalated ids, in one transaction.
Result<std::vector<std::string>> EscalateOverdueComplaints(Records& records, const WriteContext& ctx);

// Satisfaction trend: per agent and month, number of responses and mean score (0-100),
// for responses answered in [from, to] (dates, inclusive; empty = unbounded).
Result<std::string> SurveyTrendJson(Store& store, std::string_view from, std::string_view to);

// Table rules of the service-quality tables (SLA deadline, survey score, defaults).
void AddServiceQualityRules(std::map<std::string, TableRule, std::less<>>& rules);

}  // namespace fieldbook
