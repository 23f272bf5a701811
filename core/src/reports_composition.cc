// Composition: customers, policies and premium by value tier, needs segment, product and
// region (province, then city).
#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "id_index.h"
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

// One line of a grouping; a null key is written as "unclassified".
struct Group {
  std::optional<std::string> key;
  int64_t customers = 0, policies = 0, premium = 0;
  bool premium_known = false;  // SQL sum() of no value is null, sorted after every number
};

// Groups by key, as SQL would with ORDER BY premium DESC, key (nulls first).
class Grouping {
 public:
  uint32_t Of(const std::optional<std::string_view>& key) {
    if (!key) {
      if (null_ == kNone) {
        null_ = static_cast<uint32_t>(groups_.size());
        groups_.push_back(Group{});
      }
      return null_;
    }
    const uint32_t slot = index_.Add(*key);
    if (slot == slot_group_.size()) {  // a key not seen before
      slot_group_.push_back(static_cast<uint32_t>(groups_.size()));
      groups_.push_back(Group{std::string(*key)});
    }
    return slot_group_[slot];
  }
  Group& operator[](uint32_t g) { return groups_[g]; }

  void Write(JsonWriter& w) {
    std::sort(groups_.begin(), groups_.end(), [](const Group& a, const Group& b) {
      if (a.premium_known != b.premium_known) return a.premium_known;
      if (a.premium != b.premium) return a.premium > b.premium;
      if (a.key.has_value() != b.key.has_value()) return !a.key.has_value();
      return a.key && *a.key < *b.key;
    });
    w.StartArray();
    for (const Group& g : groups_) {
      w.StartObject();
      w.Key("key");
      Str(w, g.key ? *g.key : std::string("unclassified"));
      w.Key("customers");
      w.Int64(g.customers);
      w.Key("policies");
      w.Int64(g.policies);
      w.Key("premium");
      w.Int64(g.premium);
      w.EndObject();
    }
    w.EndArray();
  }

 private:
  static constexpr uint32_t kNone = IdIndex::kNone;
  IdIndex index_;
  std::vector<uint32_t> slot_group_;
  std::vector<Group> groups_;
  uint32_t null_ = kNone;
};

std::optional<std::string_view> Column(const Statement& st, int col) {
  if (st.IsNull(col)) return std::nullopt;
  return st.Text(col);
}

}  // namespace

// One pass over the customers in scope and one over the policies counted, joined in
// memory: the SQL form of the same report scanned both tables nine times.
Result<std::string> Composition(Store& store, const Scope& scope) {
  Grouping tiers, segments, regions, cities, products, product_types;
  struct Customer {
    uint32_t tier, segment, region, city;
    int64_t policies = 0, premium = 0;
  };
  std::vector<Customer> customers;
  auto add = [&](uint32_t at, const Statement& st) {
    if (at != customers.size()) return;  // ids are unique; never twice
    const auto province = Column(st, 3);
    const auto city = Column(st, 4);
    std::optional<std::string> city_key;
    if (city) city_key = (province ? std::string(*province) + " " : std::string()) + std::string(*city);
    customers.push_back(Customer{tiers.Of(Column(st, 1)), segments.Of(Column(st, 2)),
                                 regions.Of(province && !province->empty() ? province : std::nullopt),
                                 cities.Of(city_key ? std::optional<std::string_view>(*city_key) : std::nullopt)});
  };
  FB_ASSIGN_OR_RETURN(IdIndex ids,
                      CustomersInScope(store, scope, ", c.value_tier, c.needs_segment, c.province, c.city", add));
  int64_t policies = 0, premium = 0;
  std::vector<std::pair<uint32_t, uint32_t>> product_customers, type_customers;  // (group, customer)
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT p.customer_id, p.product, p.product_type, " + std::string(kAnnualPremiumSql) +
        " FROM policies p WHERE " + PolicyFilter()));
    Bind(st, scope);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const uint32_t at = ids.Find(st.Text(0));
      if (at == IdIndex::kNone) continue;  // not a customer in scope
      const bool known = !st.IsNull(3);
      const int64_t annual = known ? st.Int(3) : 0;
      ++policies;
      premium += annual;
      customers[at].policies += 1;
      customers[at].premium += annual;
      for (auto [grouping, pairs, col] : {std::make_tuple(&products, &product_customers, 1),
                                          std::make_tuple(&product_types, &type_customers, 2)}) {
        const uint32_t g = grouping->Of(Column(st, col));
        Group& group = (*grouping)[g];
        group.policies += 1;
        group.premium += annual;
        group.premium_known = group.premium_known || known;
        pairs->emplace_back(g, at);
      }
    }
  }
  // count(DISTINCT customer) per product and product type.
  for (auto [grouping, pairs] : {std::make_pair(&products, &product_customers),
                                 std::make_pair(&product_types, &type_customers)}) {
    std::sort(pairs->begin(), pairs->end());
    pairs->erase(std::unique(pairs->begin(), pairs->end()), pairs->end());
    for (const auto& [g, customer] : *pairs) (*grouping)[g].customers += 1;
  }
  int64_t with_policies = 0;
  for (const Customer& c : customers) {
    if (c.policies > 0) ++with_policies;
    for (auto [grouping, g] : {std::make_pair(&tiers, c.tier), std::make_pair(&segments, c.segment),
                               std::make_pair(&regions, c.region), std::make_pair(&cities, c.city)}) {
      Group& group = (*grouping)[g];
      group.customers += 1;
      group.policies += c.policies;
      group.premium += c.premium;
      group.premium_known = true;  // coalesce(sum, 0) in the SQL form
    }
  }

  std::string out;
  StringOutput buf(out);
  JsonWriter w(buf);
  w.StartObject();
  WriteHeader(w, "composition", scope);
  w.Key("customers");
  w.Int64(static_cast<int64_t>(customers.size()));
  w.Key("customers_with_policies");
  w.Int64(with_policies);
  w.Key("policies");
  w.Int64(policies);
  w.Key("premium");
  w.Int64(premium);
  w.Key("by_value_tier");
  tiers.Write(w);
  w.Key("by_needs_segment");
  segments.Write(w);
  w.Key("by_region");
  regions.Write(w);
  w.Key("by_city");
  cities.Write(w);
  w.Key("by_product");
  products.Write(w);
  w.Key("by_product_type");
  product_types.Write(w);
  w.EndObject();
  buf.Finish();
  return out;
}

}  // namespace fieldbook::reports
