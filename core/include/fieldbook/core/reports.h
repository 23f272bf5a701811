// Analytics over the book of business: composition, ABC, RFM and effect reports.
//
// Definitions (docs/reports.md has the worked examples):
//  - Premium is annualised in-force premium: policies in status in_force or grace, premium
//    times 12 (monthly), 4 (quarterly), 2 (semiannual) or 1 (annual, single).
//  - Scope: the profile agent's customers, or with `team` every customer on the device
//    (a lead's device holds the team's).
//  - Dates are calendar days in China Standard Time (UTC+8); ranges are inclusive.
//  - ABC: customers sorted by premium, highest first (ties by id). A customer is A when
//    the premium of the customers before it is under 80% of the total, B when under 95%,
//    else C; a customer without premium is always C. So A is the smallest set of top
//    customers that reaches 80% of the premium, B the next up to 95%.
//  - RFM: recency = days from the last contact (visit, last_contact_at) or purchase
//    (policy effective date) to the reference day `to`; frequency = visits plus policies
//    in [from, to]; monetary = premium. Each is scored 1-5 by quintile: score =
//    1 + floor(5 * worse / n), where worse counts the customers with a strictly worse value
//    (older recency, lower frequency or monetary) and n all customers; equal values score
//    equally, and a customer never contacted has the worst recency.
//  - Effect: contact achievement rate (联络达成率) = done / planned, where planned are
//    the tasks due in [from, to] plus the follow-ups planned by visits (next_action_date
//    in [from, to]); a task is done when marked done, a follow-up when a later visit to the
//    customer happened by the end of `to`. New information = visits in the period with
//    new_info; opportunities found = visits in the period noting opportunities; won = of
//    those, the ones followed by a policy of the same customer effective by `to`; pending =
//    found - won. Per agent and for the whole scope.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

struct ReportOptions {
  std::string from;   // YYYY-MM-DD; empty = the report's default
  std::string to;     // YYYY-MM-DD; empty = today (UTC+8, the store's clock)
  bool team = false;  // every customer on the device, not only the profile agent's
  bool details = true;  // abc and rfm: the per-customer rows too
};

// Report names: composition, abc, rfm, effect.
const std::vector<std::string>& ReportNames();

// Runs one report and returns its JSON object; kInvalidArgument naming the field for an
// unknown name or a bad date.
Result<std::string> RunReport(Store& store, std::string_view name, const ReportOptions& options);

// The rules above as pure functions, for tests and callers with their own data.
int64_t AnnualizedPremium(int64_t premium, std::string_view payment_frequency);
// Classes ('A', 'B', 'C') of premiums already sorted highest first.
std::vector<char> AbcClasses(const std::vector<int64_t>& premiums_desc);
// Quintile scores 1-5 of values where higher is better (nullopt = worst of all).
std::vector<int> QuintileScores(const std::vector<std::optional<double>>& values);

}  // namespace fieldbook
