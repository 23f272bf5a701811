// What classification and the lifecycle read about one customer, in a few queries.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

struct PolicyFact {
  std::string status;
  int64_t premium = 0;
  std::string frequency;
  std::optional<int64_t> term_years;
  std::optional<Date> effective;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct CustomerFacts {
  std::string id;
  std::string kind;
  std::string name;
  std::optional<Date> birth_date;
  std::string occupation;
  std::string employer;
  std::string marital_status;
  std::optional<int64_t> annual_income;
  std::optional<int64_t> staff_count;
  std::optional<std::string> needs_segment;
  std::optional<std::string> value_tier;
  std::optional<std::string> lifecycle_stage;
  int64_t last_contact_ms = 0;  // latest of last_contact_at and any visit; 0 when never
  int64_t created_at = 0;
  std::vector<std::string> family_relations;
  bool owns_company = false;  // legal representative of a company customer on this device
  std::vector<PolicyFact> policies;
};

Result<CustomerFacts> LoadCustomerFacts(Store& store, std::string_view customer_id);
// Premium a year of a policy in force or in grace (0 otherwise); single premiums are
// spread over ten years.
int64_t AnnualPremium(const PolicyFact& p);
bool PolicyActive(const PolicyFact& p);  // pending, in force or in grace

}  // namespace fieldbook
