// Rules of the customer-operation tables (registered with the archive's rules) and the
// strategy parser they share with the configuration.
#pragma once

#include <map>
#include <string>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "fieldbook/core/records.h"

namespace fieldbook {

void AddOperationRules(std::map<std::string, TableRule, std::less<>>& rules);
// Reads {"tiers":{...},"segments":{...}} into `config`; errors name the offending key
// ("strategies.tiers.gold").
Status ApplyStrategies(const rapidjson::Value& strategies, OperationConfig& config);

}  // namespace fieldbook
