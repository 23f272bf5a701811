// Customer operation (客户经营): the per-team configuration, needs and value
// classification, and the customer lifecycle.
//
// Guarantees:
//  1. Every write goes through the Archive (validated, change-captured, one transaction
//     per call), so configuration, overrides and lifecycle transitions sync like any row.
//  2. Rows that two devices may create independently for the same thing (a team's
//     configuration, an agent's quotas, an override of one field of one customer, a
//     transition derived from the same facts on the same day) get ids derived from what
//     they are (DerivedId), so syncing the two devices leaves one row, never two.
//  3. An agent's override of a classification sticks: a suggestion never replaces it
//     until the override is cleared.
//  4. Every lifecycle change, by facts or by hand, is recorded in lifecycle_events with
//     its time and reason.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"

namespace fieldbook {

// The synced tables of customer operation (declared with since_version 2):
// operation_config, agent_quotas, classification_overrides, lifecycle_events, holidays.
std::vector<TableSpec> OperationTables();

// A UUID-shaped id (version 8) derived from `key` with SHA-256: the same key gives the
// same id on every device.
std::string DerivedId(std::string_view key);

// Agents work in China: "today" and the day of an instant are in China Standard Time.
constexpr int64_t kChinaOffsetMs = 8 * 3600 * 1000;
Date ChinaDateOfMs(int64_t ms);
int64_t ChinaStartOfDayMs(const Date& d);

inline constexpr const char* kSegments[] = {"family", "professional", "elderly", "sme"};
inline constexpr const char* kTiers[] = {"high", "potential", "general", "low"};
inline constexpr const char* kStages[] = {"lead", "first_deal", "repeat", "mature", "redevelop", "left"};

struct TierStrategy {
  std::string service_level;
  int revisit_days = 90;
  std::vector<std::string> products;
};

struct SegmentStrategy {
  std::vector<std::string> products;
};

// A team's operation settings; any value the team has not set keeps its default.
struct OperationConfig {
  std::string team;
  int64_t high_premium = 2000000;       // fen of annualised premium a year: at or above is "high"
  int64_t general_premium = 300000;     // at or above is "general", below (but > 0) "low"
  int64_t potential_income = 30000000;  // annual income (fen) that marks a "potential" customer
  int64_t potential_staff = 50;         // staff count that marks a company as "potential"
  int elderly_age = 60;
  int grace_days = 60;         // premium grace period (宽限期)
  int claim_follow_days = 7;   // an open claim is followed up this long after its last change
  int no_contact_months = 12;  // a customer not contacted this long needs redevelopment
  int mature_years = 3;        // a repeat customer whose first policy is this old is mature
  int quota_prospects = 3;     // per agent per working day, unless agent_quotas says otherwise
  int quota_visits = 3;
  int quota_calls = 10;
  std::map<std::string, TierStrategy> tiers;        // by value tier
  std::map<std::string, SegmentStrategy> segments;  // by needs segment
  bool stored = false;  // false when the team has no configuration row (all defaults)

  const TierStrategy& Tier(std::string_view tier) const;  // unknown or empty: "general"
};

OperationConfig DefaultOperationConfig();
Result<OperationConfig> LoadOperationConfig(Store& store, std::string_view team);
// Validates and stores the given settings for `team` (a JSON object of the
// operation_config columns; strategies as {"tiers":{...},"segments":{...}}); keys not
// given keep their stored value.
Status SaveOperationConfig(Archive& archive, std::string_view team, std::string_view json);
std::string OperationConfigJson(const OperationConfig& config);

struct Quota {
  std::string agent;
  int prospects = 0;
  int visits = 0;
  int calls = 0;
  bool own = false;  // from agent_quotas rather than the team configuration
};
Result<Quota> LoadQuota(Store& store, const OperationConfig& config, std::string_view agent);
Status SaveQuota(Archive& archive, std::string_view agent, std::string_view json);

// ---- classification ----

struct Classification {
  std::string customer_id;
  std::optional<std::string> suggested_segment;  // nullopt: too little is known
  std::vector<std::string> segment_reasons;
  std::string suggested_tier;
  std::vector<std::string> tier_reasons;
  int64_t annual_premium = 0;  // fen, annualised, of policies in force or in grace
  std::optional<std::string> segment_override;
  std::optional<std::string> tier_override;
  std::optional<std::string> segment;  // effective: the override, else the suggestion, else stored
  std::string tier;
  bool prospect = true;  // 未成交: no policy at all
  TierStrategy strategy;
  std::vector<std::string> products;  // tier products then segment products, no repeats
  bool changed = false;               // the customer row was updated
};

// Suggests, applies (writes the effective segment and tier to the customer when they
// differ) and returns the classification of one customer, as of `today`.
Result<Classification> ClassifyCustomer(Archive& archive, std::string_view customer_id, const Date& today);
// The same for every customer the device holds, in one transaction.
Result<std::vector<Classification>> ClassifyAll(Archive& archive, const Date& today);
// Records the agent's choice for "needs_segment" or "value_tier"; an empty value clears
// the override (the suggestion applies again on the next classification).
Status OverrideClassification(Archive& archive, std::string_view customer_id, std::string_view field,
                              std::string_view value, std::string_view reason);
std::string ClassificationJson(const Classification& c);

// ---- lifecycle ----

struct LifecycleEvent {
  std::string id;
  std::string customer_id;
  std::string from_stage;  // empty for the first
  std::string to_stage;
  std::string reason;  // first_policy, second_policy, new_policy, tenure, all_policies_ended, no_contact, manual
  std::string note;
  int64_t occurred_at = 0;
};

// Moves the customer along the lifecycle as the facts require on `today` (several steps
// when several facts apply) and records each step; returns the steps taken.
Result<std::vector<LifecycleEvent>> AdvanceLifecycle(Archive& archive, std::string_view customer_id,
                                                     const Date& today);
Result<std::vector<LifecycleEvent>> AdvanceAllLifecycles(Archive& archive, const Date& today);
// A move by hand to any stage, with the agent's reason.
Result<LifecycleEvent> MoveLifecycle(Archive& archive, std::string_view customer_id, std::string_view stage,
                                     std::string_view note);
Result<std::vector<LifecycleEvent>> LifecycleHistory(Store& store, std::string_view customer_id);
std::string LifecycleEventsJson(const std::vector<LifecycleEvent>& events);

}  // namespace fieldbook
