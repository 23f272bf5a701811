// The customer archive (客户档案): the synced tables of an agent's book of business.
#pragma once

#include <string_view>

#include "fieldbook/core/schema_registry.h"

namespace fieldbook {

// Every archive table, its columns, merge policies and partition keys.
const SchemaRegistry& ArchiveRegistry();

// Appends the columns every archive row carries at the end: created_at (immutable) and
// updated_at (max), both UTC milliseconds.
TableBuilder& Stamps(TableBuilder& b);

// Table names, so callers do not spell them twice.
namespace tables {
inline constexpr std::string_view kCustomers = "customers";
inline constexpr std::string_view kConsents = "consents";
inline constexpr std::string_view kFamilyMembers = "family_members";
inline constexpr std::string_view kPolicies = "policies";
inline constexpr std::string_view kPolicyRoles = "policy_roles";
inline constexpr std::string_view kGroupMembers = "group_members";
inline constexpr std::string_view kClaims = "claims";
inline constexpr std::string_view kVisits = "visits";
inline constexpr std::string_view kTasks = "tasks";
}  // namespace tables

}  // namespace fieldbook
