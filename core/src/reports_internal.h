// Shared pieces of the report implementations.
#pragma once

#include <string>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/reports.h"
#include "fieldbook/core/store.h"
#include "id_index.h"
#include "json_output.h"
#include "read_beside.h"

namespace fieldbook::reports {

using JsonWriter = StringJsonWriter;

inline constexpr int64_t kCstOffsetMs = 8LL * 3600 * 1000;

// The resolved period and scope of one report run.
struct Scope {
  std::string agent;   // the profile agent
  bool team = false;
  Date from, to;       // inclusive calendar days (UTC+8)
  bool has_from = false;
  int64_t from_ms = 0;  // first instant of `from`
  int64_t to_end_ms = 0;  // last instant of `to`
  bool share = false;     // a second connection may read beside (ReadBeside::Worthwhile)
};

// Condition on customers c in scope: binds ?1 = team flag, ?2 = agent.
inline constexpr const char* kInScope = "(?1 OR c.owner_agent = ?2)";
// Annualised premium of a policies row aliased p.
inline constexpr const char* kAnnualPremiumSql =
    "p.premium * CASE p.payment_frequency WHEN 'monthly' THEN 12 WHEN 'quarterly' THEN 4 "
    "WHEN 'semiannual' THEN 2 ELSE 1 END";
inline constexpr const char* kInForceSql = "p.status IN ('in_force', 'grace')";

// The customers in scope in one pass, by row of their id in the returned index, for
// reports that then read other tables once and join them in memory.
// `each(row, statement)` sees each customer's row and its columns: the id first, then
// `columns` (", c.x, c.y" or "").
template <typename Each>
Result<IdIndex> CustomersInScope(Store& store, const Scope& scope, const std::string& columns, Each each) {
  FB_ASSIGN_OR_RETURN(Statement st,
                      store.Prepare("SELECT c.id" + columns + " FROM customers c WHERE " + std::string(kInScope)));
  st.Bind(1, int64_t{scope.team}).Bind(2, scope.agent);
  IdIndex ids;
  FB_ASSIGN_OR_RETURN(const size_t count, CustomerCount(store));
  ids.Reserve(count);
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    each(ids.Add(st.Text(0)), st);
  }
  return ids;
}

void WriteHeader(JsonWriter& w, std::string_view name, const Scope& scope);
void Str(JsonWriter& w, std::string_view s);

Result<std::string> Composition(Store& store, const Scope& scope);
Result<std::string> Abc(Store& store, const Scope& scope, bool details);
Result<std::string> Rfm(Store& store, const Scope& scope, bool details);
Result<std::string> Effect(Store& store, const Scope& scope);

}  // namespace fieldbook::reports
