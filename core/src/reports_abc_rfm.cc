// ABC on premium contribution and RFM scores, per customer in scope.
#include <cmath>
#include <map>

#include "reports_internal.h"

namespace fieldbook::reports {
namespace {

double Pct(long double part, long double total) {
  if (total <= 0) return 0.0;
  return std::round(static_cast<double>(part * 10000 / total)) / 100.0;  // two decimals
}

struct CustomerPremium {
  std::string id;
  int64_t premium = 0;
};

// Premium of every customer in scope (policies in force, effective by `to`), highest first.
Result<std::vector<CustomerPremium>> PremiumByCustomer(Store& store, const Scope& scope) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT c.id, coalesce(prem.total, 0) AS premium FROM customers c LEFT JOIN (SELECT p.customer_id, sum(" +
      std::string(kAnnualPremiumSql) + ") AS total FROM policies p WHERE " + kInForceSql +
      " AND p.effective_date <= ?4 AND (?3 IS NULL OR p.effective_date >= ?3) GROUP BY p.customer_id) prem "
      "ON prem.customer_id = c.id WHERE " + kInScope + " ORDER BY premium DESC, c.id"));
  st.Bind(1, int64_t{scope.team}).Bind(2, scope.agent).Bind(4, scope.to.ToString());
  if (scope.has_from) st.Bind(3, scope.from.ToString()); else st.BindNull(3);
  std::vector<CustomerPremium> out;
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.String(0), st.Int(1)});
  }
  st.Reset();
  return out;
}

}  // namespace

Result<std::string> Abc(Store& store, const Scope& scope, bool details) {
  FB_ASSIGN_OR_RETURN(std::vector<CustomerPremium> customers, PremiumByCustomer(store, scope));
  std::vector<int64_t> premiums;
  premiums.reserve(customers.size());
  long double total = 0;
  for (const auto& c : customers) premiums.push_back(c.premium), total += c.premium;
  const std::vector<char> classes = AbcClasses(premiums);
  struct Tally {
    int64_t customers = 0;
    long double premium = 0;
  };
  std::map<char, Tally> tally{{'A', {}}, {'B', {}}, {'C', {}}};
  for (size_t i = 0; i < customers.size(); ++i) {
    tally[classes[i]].customers++;
    tally[classes[i]].premium += customers[i].premium;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteHeader(w, "abc", scope);
  w.Key("rule");
  Str(w, "A: customers before whom cumulative premium is under 80% of the total; B: under 95%; C: the rest and "
         "customers without premium");
  w.Key("customers");
  w.Int64(static_cast<int64_t>(customers.size()));
  w.Key("premium");
  w.Int64(static_cast<int64_t>(total));
  w.Key("classes");
  w.StartArray();
  for (const auto& [cls, t] : tally) {
    w.StartObject();
    w.Key("class");
    Str(w, std::string(1, cls));
    w.Key("customers");
    w.Int64(t.customers);
    w.Key("premium");
    w.Int64(static_cast<int64_t>(t.premium));
    w.Key("premium_share_pct");
    w.Double(Pct(t.premium, total));
    w.Key("customer_share_pct");
    w.Double(Pct(t.customers, static_cast<long double>(customers.size())));
    w.EndObject();
  }
  w.EndArray();
  if (details) {
    w.Key("by_customer");
    w.StartArray();
    long double cumulative = 0;
    for (size_t i = 0; i < customers.size(); ++i) {
      cumulative += customers[i].premium;
      w.StartObject();
      w.Key("customer_id");
      Str(w, customers[i].id);
      w.Key("premium");
      w.Int64(customers[i].premium);
      w.Key("cumulative_pct");
      w.Double(Pct(cumulative, total));
      w.Key("class");
      Str(w, std::string(1, classes[i]));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> Rfm(Store& store, const Scope& scope, bool details) {
  // Last contact or purchase by `to`, contacts and purchases in the period, premium.
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT c.id, v.last_at, CASE WHEN c.last_contact_at <= ?5 THEN c.last_contact_at END, p.last_date, "
      "coalesce(v.n, 0) + coalesce(p.n, 0), coalesce(p.premium, 0) FROM customers c "
      "LEFT JOIN (SELECT customer_id, max(visited_at) AS last_at, sum(visited_at >= ?6) AS n FROM visits "
      "  WHERE visited_at <= ?5 GROUP BY customer_id) v ON v.customer_id = c.id "
      "LEFT JOIN (SELECT p.customer_id, max(p.effective_date) AS last_date, sum(p.effective_date >= ?3) AS n, "
      "  sum(CASE WHEN " + std::string(kInForceSql) + " THEN " + kAnnualPremiumSql + " ELSE 0 END) AS premium "
      "  FROM policies p WHERE p.effective_date <= ?4 GROUP BY p.customer_id) p ON p.customer_id = c.id "
      "WHERE " + kInScope + " ORDER BY c.id"));
  st.Bind(1, int64_t{scope.team}).Bind(2, scope.agent).Bind(3, scope.from.ToString()).Bind(4, scope.to.ToString());
  st.Bind(5, scope.to_end_ms).Bind(6, scope.from_ms);
  struct Row {
    std::string id;
    std::optional<int64_t> recency_days;
    int64_t frequency = 0, monetary = 0;
  };
  std::vector<Row> rows;
  const int64_t to_day = scope.to.ToDays();
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) break;
    Row r{st.String(0), std::nullopt, st.Int(4), st.Int(5)};
    // Contact times are instants, seen as days in UTC+8; policy dates are days already.
    std::optional<int64_t> last_day;
    for (int col : {1, 2}) {
      if (st.IsNull(col)) continue;
      const int64_t day = DateOfMs(st.Int(col) + kCstOffsetMs).ToDays();
      last_day = std::max(last_day.value_or(day), day);
    }
    if (!st.IsNull(3)) {
      if (auto d = ParseDate(st.Text(3)); d.ok()) last_day = std::max(last_day.value_or(d->ToDays()), d->ToDays());
    }
    if (last_day) r.recency_days = to_day - *last_day;
    rows.push_back(std::move(r));
  }
  st.Reset();
  std::vector<std::optional<double>> recency, frequency, monetary;
  for (const Row& r : rows) {
    recency.push_back(r.recency_days ? std::optional<double>(-static_cast<double>(*r.recency_days)) : std::nullopt);
    frequency.push_back(static_cast<double>(r.frequency));
    monetary.push_back(static_cast<double>(r.monetary));
  }
  const auto rs = QuintileScores(recency), fs = QuintileScores(frequency), ms = QuintileScores(monetary);
  int64_t distribution[3][5] = {};
  std::map<std::string, int64_t> segments;
  for (size_t i = 0; i < rows.size(); ++i) {
    distribution[0][rs[i] - 1]++, distribution[1][fs[i] - 1]++, distribution[2][ms[i] - 1]++;
    segments[std::to_string(rs[i]) + std::to_string(fs[i]) + std::to_string(ms[i])]++;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteHeader(w, "rfm", scope);
  w.Key("customers");
  w.Int64(static_cast<int64_t>(rows.size()));
  const char* names[3] = {"r", "f", "m"};
  w.Key("score_counts");
  w.StartObject();
  for (int k = 0; k < 3; ++k) {
    w.Key(names[k]);
    w.StartArray();
    for (int64_t n : distribution[k]) w.Int64(n);
    w.EndArray();
  }
  w.EndObject();
  w.Key("segments");
  w.StartObject();
  for (const auto& [code, n] : segments) {
    w.Key(code.c_str());
    w.Int64(n);
  }
  w.EndObject();
  if (details) {
    w.Key("by_customer");
    w.StartArray();
    for (size_t i = 0; i < rows.size(); ++i) {
      w.StartObject();
      w.Key("customer_id");
      Str(w, rows[i].id);
      w.Key("recency_days");
      if (rows[i].recency_days) w.Int64(*rows[i].recency_days); else w.Null();
      w.Key("frequency");
      w.Int64(rows[i].frequency);
      w.Key("monetary");
      w.Int64(rows[i].monetary);
      w.Key("r");
      w.Int(rs[i]);
      w.Key("f");
      w.Int(fs[i]);
      w.Key("m");
      w.Int(ms[i]);
      w.Key("rfm");
      Str(w, std::to_string(rs[i]) + std::to_string(fs[i]) + std::to_string(ms[i]));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook::reports
