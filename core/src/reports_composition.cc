// Composition: customers, policies and premium by value tier, needs segment, product and
// region (province, then city).
#include "reports_internal.h"

namespace fieldbook::reports {
namespace {

// Policies counted: in force, effective within the period (or by `to` without a start).
std::string PolicyFilter() {
  return std::string(kInForceSql) + " AND p.effective_date <= ?4 AND (?3 IS NULL OR p.effective_date >= ?3)";
}

void Bind(Statement& st, const Scope& scope) {
  st.Bind(1, int64_t{scope.team}).Bind(2, scope.agent).Bind(4, scope.to.ToString());
  if (scope.has_from) st.Bind(3, scope.from.ToString()); else st.BindNull(3);
}

// Writes [{"key":..,"customers":..,"policies":..,"premium":..}] for one grouping.
Status Grouped(Store& store, const Scope& scope, const std::string& sql, JsonWriter& w) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
  Bind(st, scope);
  w.StartArray();
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    w.StartObject();
    w.Key("key");
    if (st.IsNull(0)) Str(w, "unclassified"); else Str(w, st.Text(0));
    w.Key("customers");
    w.Int64(st.Int(1));
    w.Key("policies");
    w.Int64(st.Int(2));
    w.Key("premium");
    w.Int64(st.Int(3));
    w.EndObject();
  }
  w.EndArray();
  st.Reset();
  return Status::Ok();
}

// Per-customer totals (one grouped pass over policies) joined to the customer's `group`.
std::string ByCustomerColumn(const std::string& group) {
  return "SELECT " + group + ", count(*), coalesce(sum(prem.n), 0), coalesce(sum(prem.total), 0) FROM customers c "
         "LEFT JOIN (SELECT p.customer_id, count(*) AS n, sum(" + std::string(kAnnualPremiumSql) + ") AS total "
         "FROM policies p WHERE " + PolicyFilter() + " GROUP BY p.customer_id) prem ON prem.customer_id = c.id "
         "WHERE " + kInScope + " GROUP BY 1 ORDER BY 4 DESC, 1";
}

// Policies counted, joined to their customer in scope.
std::string ScopedPolicies() {
  return std::string(" FROM policies p JOIN customers c ON c.id = p.customer_id WHERE ") + kInScope + " AND " +
         PolicyFilter();
}

}  // namespace

Result<std::string> Composition(Store& store, const Scope& scope) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteHeader(w, "composition", scope);
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT (SELECT count(*) FROM customers c WHERE " + std::string(kInScope) + "), "
        "(SELECT count(DISTINCT p.customer_id)" + ScopedPolicies() + "), (SELECT count(*)" + ScopedPolicies() +
        "), (SELECT coalesce(sum(" + kAnnualPremiumSql + "), 0)" + ScopedPolicies() + ")"));
    Bind(st, scope);
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    (void)row;
    w.Key("customers");
    w.Int64(st.Int(0));
    w.Key("customers_with_policies");
    w.Int64(st.Int(1));
    w.Key("policies");
    w.Int64(st.Int(2));
    w.Key("premium");
    w.Int64(st.Int(3));
    st.Reset();
  }
  w.Key("by_value_tier");
  FB_RETURN_IF_ERROR(Grouped(store, scope, ByCustomerColumn("c.value_tier"), w));
  w.Key("by_needs_segment");
  FB_RETURN_IF_ERROR(Grouped(store, scope, ByCustomerColumn("c.needs_segment"), w));
  w.Key("by_region");
  FB_RETURN_IF_ERROR(Grouped(store, scope, ByCustomerColumn("nullif(c.province, '')"), w));
  w.Key("by_city");
  FB_RETURN_IF_ERROR(Grouped(
      store, scope,
      ByCustomerColumn("CASE WHEN c.city IS NULL THEN NULL ELSE coalesce(c.province || ' ', '') || c.city END"), w));
  w.Key("by_product");
  FB_RETURN_IF_ERROR(Grouped(
      store, scope,
      "SELECT p.product, count(DISTINCT p.customer_id), count(*), sum(" + std::string(kAnnualPremiumSql) + ")" +
      ScopedPolicies() + " GROUP BY 1 ORDER BY 4 DESC, 1", w));
  w.Key("by_product_type");
  FB_RETURN_IF_ERROR(Grouped(
      store, scope,
      "SELECT p.product_type, count(DISTINCT p.customer_id), count(*), sum(" + std::string(kAnnualPremiumSql) +
      ")" + ScopedPolicies() + " GROUP BY 1 ORDER BY 4 DESC, 1", w));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook::reports
