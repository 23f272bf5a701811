// Relationships (客户关系): the relationship card of a customer, its maintenance record,
// periodic evaluations approved by the team lead, maintenance records of investment-linked
// holdings, and events with invitations and attendance.
//
// Guarantees:
//  1. A customer has at most one relationship card: its id is derived from the customer's
//     id (RelationshipCardId), so two devices that create it offline write the same row
//     and sync merges their fields instead of keeping two cards.
//  2. An evaluation's total is recomputed from its scores on every write; it cannot be
//     set by hand.
//  3. Only a profile whose role is lead or admin approves or rejects an evaluation
//     (ReviewEvaluation); the approver's agent id and the time are recorded with it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/records.h"
#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

// relationship_cards, relationship_logs, relationship_evaluations, investment_holdings,
// events, event_invitations (all since schema version 2).
std::vector<TableSpec> RelationsTables();

// The role this profile acts in: "agent" (default), "lead" or "admin". Set with
// `fieldbook init --role` (or profile.init's "role"); it mirrors the role of the sync
// token the device is given.
Result<std::string> ProfileRole(Store& store);
Status SetProfileRole(Store& store, std::string_view role);

// The deterministic id of a customer's relationship card.
std::string RelationshipCardId(std::string_view customer_id);

// Creates or updates the card of `customer_id` from a JSON object; returns the card id.
Result<std::string> SetRelationshipCard(Records& records, std::string_view customer_id, std::string_view json,
                                        const WriteContext& ctx);

// Approves (approve = true) or rejects a submitted evaluation as the profile's lead.
// `feedback` (may be empty) is stored as the reviewer's feedback.
Status ReviewEvaluation(Records& records, std::string_view evaluation_id, bool approve, std::string_view feedback,
                        const WriteContext& ctx);

// Table rules of the relationship tables (defaults, ranges, the evaluation total).
void AddRelationsRules(std::map<std::string, TableRule, std::less<>>& rules);

}  // namespace fieldbook
