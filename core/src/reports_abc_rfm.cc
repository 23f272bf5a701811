// ABC on premium contribution and RFM scores, per customer in scope.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>

#include "id_index.h"
#include "reports_internal.h"
#include "text_arena.h"

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

// Premium of every customer in scope (policies in force, effective by `to`), highest first
// and then by id.
Result<std::vector<CustomerPremium>> PremiumByCustomer(Store& store, const Scope& scope) {
  FB_ASSIGN_OR_RETURN(IdIndex ids, CustomersInScope(store, scope, "", [](uint32_t, const Statement&) {}));
  std::vector<int64_t> premium(ids.size(), 0);
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT p.customer_id, " + std::string(kAnnualPremiumSql) + " FROM policies p WHERE " + kInForceSql +
      " AND p.effective_date <= ?2 AND (?1 IS NULL OR p.effective_date >= ?1)"));
  st.Bind(2, scope.to.ToString());
  if (scope.has_from) st.Bind(1, scope.from.ToString()); else st.BindNull(1);
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const uint32_t at = ids.Find(st.Text(0));
    if (at != IdIndex::kNone && !st.IsNull(1)) premium[at] += st.Int(1);
  }
  std::vector<uint32_t> order(ids.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (premium[a] != premium[b]) return premium[a] > premium[b];
    return ids.id(a) < ids.id(b);
  });
  std::vector<CustomerPremium> out;
  out.reserve(order.size());
  for (uint32_t i : order) out.push_back({std::string(ids.id(i)), premium[i]});
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
  std::string out;
  if (details) out.reserve(customers.size() * 110 + 1024);  // about 105 bytes a customer
  StringOutput buf(out);
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
  buf.Finish();
  return out;
}

Result<std::string> Rfm(Store& store, const Scope& scope, bool details) {
  // Last contact or purchase by `to`, contacts and purchases in the period, premium: one
  // pass over each table, joined in memory.
  struct Tally {
    std::optional<int64_t> last_contact_ms;
    std::optional<std::string> last_policy_date;  // compared as text, as SQL max() does
    int64_t frequency = 0, monetary = 0;
  };
  std::vector<Tally> tally;
  auto latest = [](std::optional<int64_t>& slot, int64_t ms) { slot = std::max(slot.value_or(ms), ms); };
  auto add = [&](uint32_t at, const Statement& st) {
    if (at == tally.size()) tally.emplace_back();
    if (!st.IsNull(1) && st.Int(1) <= scope.to_end_ms) latest(tally[at].last_contact_ms, st.Int(1));
  };
  // The visits and the policies by customer id, read on a second connection while the
  // customers are read on this one (see ReadBeside), then joined to them.
  struct Side {
    struct Visit {
      TextRef customer;
      int64_t ms;
    };
    struct Policy {
      TextRef customer, date;
      bool in_period;
      std::optional<int64_t> premium;
    };
    TextArena text;
    std::vector<Visit> visits;
    std::vector<Policy> policies;
  } side;
  ReadBeside beside(store, scope.share, [&](sqlite3* db, const Store* profile) -> Status {
    side = Side{};
    {
      RawQuery st(db, profile);
      FB_RETURN_IF_ERROR(st.Prepare("SELECT customer_id, visited_at FROM visits WHERE visited_at IS NOT NULL"));
      // Filtered here, not in SQL: a bound on visited_at makes SQLite walk its index and
      // fetch nearly every row by rowid, several times slower than reading the table.
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        if (st.Int(1) > scope.to_end_ms) continue;
        side.visits.push_back(Side::Visit{side.text.Add(st.Text(0)), st.Int(1)});
      }
    }
    RawQuery st(db, profile);
    FB_RETURN_IF_ERROR(st.Prepare(
        "SELECT p.customer_id, p.effective_date, p.effective_date >= ?1, CASE WHEN " + std::string(kInForceSql) +
        " THEN " + kAnnualPremiumSql + " ELSE 0 END FROM policies p WHERE p.effective_date <= ?2"));
    st.Bind(1, scope.from.ToString());
    st.Bind(2, scope.to.ToString());
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const TextRef customer = side.text.Add(st.Text(0));
      side.policies.push_back(Side::Policy{customer, side.text.Add(st.Text(1)), st.Int(2) != 0, st.OptInt(3)});
    }
    if (side.text.full()) {
      return Status(ErrorCode::kInvalidArgument, "more visits and policies than one report can read");
    }
    return Status::Ok();
  });
  FB_ASSIGN_OR_RETURN(IdIndex ids, CustomersInScope(store, scope, ", c.last_contact_at", add));
  FB_RETURN_IF_ERROR(beside.Finish());
  for (const Side::Visit& v : side.visits) {
    const uint32_t at = ids.Find(side.text.View(v.customer));
    if (at == IdIndex::kNone) continue;
    latest(tally[at].last_contact_ms, v.ms);
    if (v.ms >= scope.from_ms) ++tally[at].frequency;
  }
  for (const Side::Policy& p : side.policies) {
    const uint32_t at = ids.Find(side.text.View(p.customer));
    if (at == IdIndex::kNone) continue;
    Tally& t = tally[at];
    const std::string_view date = side.text.View(p.date);
    if (!t.last_policy_date || *t.last_policy_date < date) t.last_policy_date = std::string(date);
    if (p.in_period) ++t.frequency;
    if (p.premium) t.monetary += *p.premium;
  }
  side = Side{};  // freed before the output is written (see below)
  struct Row {
    uint32_t at;  // the customer's row in `ids`
    std::optional<int64_t> recency_days;
    int64_t frequency = 0, monetary = 0;
  };
  std::vector<Row> rows;
  rows.reserve(ids.size());
  std::vector<uint32_t> by_id(ids.size());
  for (uint32_t i = 0; i < by_id.size(); ++i) by_id[i] = i;
  std::sort(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) { return ids.id(a) < ids.id(b); });
  const int64_t to_day = scope.to.ToDays();
  for (uint32_t i : by_id) {
    const Tally& t = tally[i];
    Row r{i, std::nullopt, t.frequency, t.monetary};
    // Contact times are instants, seen as days in UTC+8; policy dates are days already.
    std::optional<int64_t> last_day;
    if (t.last_contact_ms) last_day = DateOfMs(*t.last_contact_ms + kCstOffsetMs).ToDays();
    if (t.last_policy_date) {
      if (auto d = ParseDate(*t.last_policy_date); d.ok()) {
        last_day = std::max(last_day.value_or(d->ToDays()), d->ToDays());
      }
    }
    if (last_day) r.recency_days = to_day - *last_day;
    rows.push_back(std::move(r));
  }
  // What is no longer needed goes before the output is written: on a large book the
  // output is the biggest allocation, and a lower peak keeps the allocator from handing
  // memory back to the system and faulting it in again on the next report.
  std::vector<Tally>().swap(tally);
  std::vector<uint32_t>().swap(by_id);
  std::vector<int> rs, fs, ms;
  {
    std::vector<std::optional<double>> recency, frequency, monetary;
    recency.reserve(rows.size());
    frequency.reserve(rows.size());
    monetary.reserve(rows.size());
    for (const Row& r : rows) {
      recency.push_back(r.recency_days ? std::optional<double>(-static_cast<double>(*r.recency_days)) : std::nullopt);
      frequency.push_back(static_cast<double>(r.frequency));
      monetary.push_back(static_cast<double>(r.monetary));
    }
    rs = QuintileScores(recency);
    fs = QuintileScores(frequency);
    ms = QuintileScores(monetary);
  }
  // Segment k = (r-1)*25 + (f-1)*5 + (m-1), so segments in k order are in code order; its
  // code is the three digits "rfm".
  auto segment = [&](size_t i) { return (rs[i] - 1) * 25 + (fs[i] - 1) * 5 + (ms[i] - 1); };
  auto code = [](int k) {
    return std::array<char, 3>{static_cast<char>('1' + k / 25), static_cast<char>('1' + k / 5 % 5),
                               static_cast<char>('1' + k % 5)};
  };
  int64_t distribution[3][5] = {};
  int64_t segments[125] = {};
  for (size_t i = 0; i < rows.size(); ++i) {
    distribution[0][rs[i] - 1]++, distribution[1][fs[i] - 1]++, distribution[2][ms[i] - 1]++;
    segments[segment(i)]++;
  }
  std::string out;
  if (details) out.reserve(rows.size() * 140 + 1024);  // about 130 bytes a customer
  StringOutput buf(out);
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
  for (int k = 0; k < 125; ++k) {
    if (segments[k] == 0) continue;
    w.Key(code(k).data(), 3);
    w.Int64(segments[k]);
  }
  w.EndObject();
  if (details) {
    w.Key("by_customer");
    w.StartArray();
    for (size_t i = 0; i < rows.size(); ++i) {
      // Rows are in id order, their ids were read in storage order: fetch ahead.
      if (i + 8 < rows.size()) __builtin_prefetch(ids.id(rows[i + 8].at).data());
      w.StartObject();
      w.Key("customer_id");
      Str(w, ids.id(rows[i].at));
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
      w.String(code(segment(i)).data(), 3);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  buf.Finish();
  return out;
}

}  // namespace fieldbook::reports
