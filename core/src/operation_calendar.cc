// The service calendar (see operation_calendar.h). Rules, all dates in China time:
//  - birthday: the solar birth date each year (29 Feb falls on 28 Feb in common years), or,
//    when lunar_birthday is set, the same lunar month and day each lunar year (a birthday
//    in a leap month is kept in the regular month of the same number; day 30 in a month of
//    29 days falls on the 29th).
//  - family_birthday: the same for each family member with a birth date.
//  - policy_anniversary: the effective date each year from the first (policies in force
//    or in grace; 29 Feb -> 28 Feb in common years).
//  - premium_due: from payment_due_date (the next due date, itself included) or else the
//    effective date (excluded), every 12/6/3/1 months for annual/semiannual/quarterly/
//    monthly payment, counted from that anchor so month ends clamp without drifting
//    (31 Jan monthly: 28/29 Feb, 31 Mar, ...); only within payment_years when set.
//  - grace_end: for a policy in grace, the latest due date up to `today` plus grace_days.
//  - claim_follow_up: an open claim claim_follow_days after its last change.
//  - revisit: the customer's tier rhythm (revisit_days) after the last contact (the
//    latest visit or last_contact_at, else when the customer was added); not for "left".
//  - festival: Spring Festival, Lantern, Dragon Boat, Mid-Autumn, Double Ninth and New
//    Year's Eve (lunar, from ICU), New Year's Day, Labour Day and National Day (solar).
//  - holiday / workday: the announced days off and make-up working days (holidays table).
//  - task: the agent's tasks by due date.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation_calendar.h"
#include "id_index.h"
#include "read_beside.h"
#include "text_arena.h"
#include "json_output.h"
#include "prefault.h"

namespace fieldbook {
namespace {

template <class Row>
std::optional<Date> DateOf(const Row& st, int col) {
  if (st.IsNull(col)) return std::nullopt;
  auto d = ParseDate(st.Text(col));
  if (!d.ok()) return std::nullopt;
  return *d;
}

// The days of the month a yearly or monthly date must fall on to land in [from, to], as
// bits 1..31: each day in the range, and on a month's last day every later day too (such
// dates are moved to the last day: 31 Jan + 1 month, 29 Feb in a common year). 0 when
// every day can (ranges of a month or more): then there is nothing to filter.
uint32_t DaysOfMonthIn(const Date& from, const Date& to) {
  constexpr uint32_t kAll = 0xFFFFFFFEu;  // bits 1..31
  if (to.ToDays() - from.ToDays() >= 31) return 0;
  uint32_t mask = 0;
  for (Date d = from; !(to < d); d = d.AddDays(1)) {
    mask |= 1u << d.day;
    if (d.day == DaysInMonth(d.year, d.month)) mask |= kAll & ~((2u << d.day) - 1);
  }
  return mask == kAll ? 0 : mask;
}

// A month/day in `year`, 29 Feb becoming 28 Feb in a common year.
Date InYear(int year, int month, int day) { return Date{year, month, std::min(day, DaysInMonth(year, month))}; }

std::string Yuan(int64_t fen) {
  std::string s = std::to_string(fen / 100);
  if (fen % 100 != 0) {
    const int64_t cents = fen % 100;
    s += "." + std::string(cents < 10 ? "0" : "") + std::to_string(cents);
  }
  return s;
}

// 64 bytes a customer (a book holds 100k of them, all read into memory).
struct CustomerInfo {
  int64_t last_contact_ms = 0;
  // The marketing consent record that decided `marketing` (the latest wins): its time and
  // rowid; its id is read only to break a tie of times.
  int64_t consent_at = INT64_MIN;
  int64_t consent_rowid = 0;
  TextRef name;
  TextRef owner;
  // Read from the row, used once the visits and consents are in.
  Date birth;
  uint32_t tier = 0;  // in the builder's tiers_
  bool has_birth = false;
  bool marketing = false;
  bool lunar = false;
  bool person = false;
  bool left = false;
};
static_assert(sizeof(CustomerInfo) <= 64, "CustomerInfo grew past 64 bytes");

// The customers a query covers, by row of their id in an IdIndex.
class CustomerTable {
 public:
  void Reserve(size_t n) {
    index_.Reserve(n);
    rows_.reserve(n);
    PrefaultCapacity(rows_);
  }
  CustomerInfo& Add(std::string_view id) {
    const uint32_t row = index_.Add(id);
    if (row == rows_.size()) rows_.emplace_back();
    return rows_[row];
  }
  uint32_t RowOf(const CustomerInfo& c) const { return static_cast<uint32_t>(&c - rows_.data()); }
  std::string_view IdAt(uint32_t row) const { return index_.id(row); }
  std::string_view IdOf(const CustomerInfo& c) const { return IdAt(RowOf(c)); }
  CustomerInfo* Find(std::string_view id) {
    const uint32_t row = index_.Find(id);
    return row == IdIndex::kNone ? nullptr : &rows_[row];
  }
  std::vector<CustomerInfo>& rows() { return rows_; }
  size_t size() const { return rows_.size(); }

 private:
  IdIndex index_;
  std::vector<CustomerInfo> rows_;
};

// Occasion kinds in the order of their names, so that comparing kinds compares names.
enum Kind : uint8_t {
  kBirthday,
  kClaimFollowUp,
  kFamilyBirthday,
  kFestival,
  kGraceEnd,
  kHoliday,
  kPolicyAnniversary,
  kPremiumDue,
  kRevisit,
  kTask,
  kWorkday,
};
struct KindName {
  const char* kind;
  const char* category;
};
constexpr KindName kKinds[] = {
    {"birthday", "marketing"},   {"claim_follow_up", "service"},    {"family_birthday", "marketing"},
    {"festival", "marketing"},   {"grace_end", "service"},          {"holiday", "holiday"},
    {"policy_anniversary", "service"}, {"premium_due", "service"}, {"revisit", "service"},
    {"task", "task"},            {"workday", "holiday"},
};
constexpr bool NamesInOrder() {
  for (size_t i = 1; i < sizeof kKinds / sizeof kKinds[0]; ++i) {
    const char* a = kKinds[i - 1].kind;
    const char* b = kKinds[i].kind;
    while (*a && *a == *b) ++a, ++b;
    if (!(static_cast<unsigned char>(*a) < static_cast<unsigned char>(*b))) return false;
  }
  return true;
}
static_assert(NamesInOrder(), "kKinds must be sorted by name");

// An occasion as the builder holds it: its texts in the arena, its customer by row.
struct Item {
  Date date;
  Kind kind = kTask;
  bool overdue = false;
  bool done = false;
  uint32_t customer = IdIndex::kNone;  // its customer_id is that row's id; else `customer_id`
  TextRef id, title, customer_id, customer_name, owner_agent, subject_id, detail;
  int64_t greet_customers = -1;
};

// One occasion's fields as the JSON writer reads them, from either representation.
struct OccasionView {
  std::string_view id, kind, category, title, customer_id, customer_name, owner_agent, subject_id, detail;
  Date date;
  bool overdue = false;
  bool done = false;
  int64_t greet_customers = -1;
};

OccasionView ViewOf(const Occasion& o) {
  return OccasionView{o.id,          o.kind,          o.category,   o.title,  o.customer_id, o.customer_name,
                      o.owner_agent, o.subject_id,    o.detail,     o.date,   o.overdue,     o.done,
                      o.greet_customers};
}

// What the calendar reads beside the customers, by customer id, to be joined to them:
// visits, marketing consents, the policies' occasions in range and the family members
// who can have one. Texts in its own arena.
struct SideReads {
  struct Visit {
    TextRef customer;
    int64_t ms;
  };
  struct Consent {
    TextRef customer;
    int64_t at;
    int64_t rowid;
    bool granted;
  };
  struct PolicyOccasion {
    TextRef customer, policy, title, detail;
    Date date;
    Kind kind;
  };
  struct Member {
    TextRef id, customer, name, relation;
    Date birth;
    bool lunar;
  };
  TextArena text;
  std::vector<Visit> visits;
  std::vector<Consent> consents;
  std::vector<PolicyOccasion> policies;
  std::vector<Member> members;
};

class SideReader {
 public:
  SideReader(const CalendarQuery& q, const OperationConfig& config, uint32_t days)
      : q_(q), config_(config), days_(days) {}

  // Reads on `db`; `store` is the profile when `db` is its own connection.
  Result<SideReads> Read(sqlite3* db, const Store* store) const {
    SideReads out;
    FB_RETURN_IF_ERROR(Visits(db, store, out));
    FB_RETURN_IF_ERROR(Consents(db, store, out));
    FB_RETURN_IF_ERROR(Members(db, store, out));
    FB_RETURN_IF_ERROR(Policies(db, store, out));
    return out;
  }

 private:
  bool InRange(const Date& d) const { return q_.from <= d && d <= q_.to; }

  // The table in storage order: grouping by customer walks the customer_id index and
  // fetches every visit by rowid.
  static Status Visits(sqlite3* db, const Store* store, SideReads& out) {
    RawQuery st(db, store);
    FB_RETURN_IF_ERROR(st.Prepare("SELECT customer_id, visited_at FROM visits WHERE visited_at IS NOT NULL"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.visits.push_back(SideReads::Visit{out.text.Add(st.Text(0)), st.Int(1)});
    }
    return Status::Ok();
  }

  static Status Consents(sqlite3* db, const Store* store, SideReads& out) {
    RawQuery st(db, store);
    FB_RETURN_IF_ERROR(st.Prepare(
        "SELECT customer_id, granted, recorded_at, rowid FROM consents WHERE purpose = 'marketing'"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.consents.push_back(
          SideReads::Consent{out.text.Add(st.Text(0)), st.OptInt(2).value_or(0), st.Int(3), st.Int(1) != 0});
    }
    return Status::Ok();
  }

  Status Members(sqlite3* db, const Store* store, SideReads& out) const {
    RawQuery st(db, store);
    FB_RETURN_IF_ERROR(st.Prepare(
        "SELECT id, customer_id, name, relation, birth_date, lunar_birthday FROM family_members "
        "WHERE birth_date IS NOT NULL AND "
        "(?1 = 0 OR lunar_birthday = 1 OR (?1 >> CAST(substr(birth_date, 9, 2) AS INTEGER)) & 1)"));
    // Solar birthdays only on the days that can fall in a short range (lunar ones move).
    st.Bind(1, int64_t{days_});
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const auto birth = DateOf(st, 4);
      if (!birth) continue;
      TextArena& t = out.text;
      out.members.push_back(SideReads::Member{t.Add(st.Text(0)), t.Add(st.Text(1)), t.Add(st.Text(2)),
                                              t.Add(st.Text(3)), *birth, st.OptInt(5).value_or(0) == 1});
    }
    return Status::Ok();
  }

  // Each policy's anniversaries, premium due dates and grace end in range, for whichever
  // customer holds it (the customers of the query are not known here).
  Status Policies(sqlite3* db, const Store* store, SideReads& out) const {
    RawQuery st(db, store);
    FB_RETURN_IF_ERROR(st.Prepare(
        "SELECT id, customer_id, policy_number, product, effective_date, payment_frequency, payment_years, "
        "payment_due_date, premium, status FROM policies WHERE status IN ('in_force', 'grace') AND (?1 = 0 OR "
        "status = 'grace' OR (?1 >> CAST(substr(effective_date, 9, 2) AS INTEGER)) & 1 OR "
        "(?1 >> CAST(substr(payment_due_date, 9, 2) AS INTEGER)) & 1)"));
    // Only policies whose anniversary or due day can fall in a short range reach here (a
    // grace period's end can fall on any day).
    st.Bind(1, int64_t{days_});
    TextArena& t = out.text;
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const auto effective = DateOf(st, 4);
      if (!effective) continue;
      // Most policies have nothing in a short range: their ids are kept on a hit only.
      TextRef customer, policy;
      auto add = [&](const Date& d, Kind kind, TextRef title, TextRef detail = {}) {
        if (policy.len == 0) {
          customer = t.Add(st.Text(1));
          policy = t.Add(st.Text(0));
        }
        out.policies.push_back(SideReads::PolicyOccasion{customer, policy, title, detail, d, kind});
      };
      const std::string_view number = st.Text(2), product = st.Text(3);
      for (int y = std::max(q_.from.year, effective->year + 1); y <= q_.to.year; ++y) {
        const Date d = InYear(y, effective->month, effective->day);
        if (!InRange(d)) continue;
        add(d, kPolicyAnniversary,
            t.Join({number, " ", product, " anniversary (", std::to_string(y - effective->year), " years)"}));
      }
      const int step = MonthsBetweenPayments(st.Text(5));
      if (step == 0) continue;
      const auto next_due = DateOf(st, 7);
      const Date anchor = next_due ? *next_due : *effective;
      const int first = next_due ? 0 : 1;
      const int64_t years = st.OptInt(6).value_or(0);
      const std::optional<Date> stop =
          years > 0 ? std::optional<Date>(effective->AddMonths(static_cast<int>(std::min<int64_t>(years, 200)) * 12))
                    : std::nullopt;
      auto due = [&](int k) { return anchor.AddMonths(k * step); };
      const int months_to_from = (q_.from.year - anchor.year) * 12 + (q_.from.month - anchor.month);
      for (int k = std::max(first, months_to_from / step - 1);; ++k) {
        const Date d = due(k);
        if (q_.to < d || (stop && *stop <= d)) break;
        if (!InRange(d)) continue;
        add(d, kPremiumDue, t.Join({number, " ", product, " premium ", Yuan(st.Int(8)), " yuan due"}),
            t.Join({"grace until ", d.AddDays(config_.grace_days).ToString()}));
      }
      if (st.Text(9) == "grace") {
        // The latest due date up to today; its grace period is the one running.
        const int months_to_today = (q_.today.year - anchor.year) * 12 + (q_.today.month - anchor.month);
        int k = std::max(first, months_to_today / step + 1);
        while (k > first && q_.today < due(k)) --k;
        if (!(q_.today < due(k))) {
          const Date end = due(k).AddDays(config_.grace_days);
          if (InRange(end)) {
            add(end, kGraceEnd, t.Join({number, " ", product, " grace period ends"}),
                t.Join({"premium due ", due(k).ToString()}));
          }
        }
      }
    }
    return Status::Ok();
  }

  static int MonthsBetweenPayments(std::string_view frequency) {
    if (frequency == "annual") return 12;
    if (frequency == "semiannual") return 6;
    if (frequency == "quarterly") return 3;
    if (frequency == "monthly") return 1;
    return 0;
  }

  const CalendarQuery& q_;
  const OperationConfig& config_;
  const uint32_t days_;
};

class Builder {
 public:
  // `share`: whether a second connection may read beside this one (see ReadBeside).
  Builder(Store& store, const CalendarQuery& q, LunarCalendar& lunar, const OperationConfig& config, bool share)
      : store_(store), q_(q), lunar_(lunar), config_(config), days_(DaysOfMonthIn(q.from, q.to)), share_(share) {}

  Status Run() {
    if (!lunar_.available()) {
      notices_.push_back(
          "lunar dates are unavailable in this build (no ICU): lunar birthdays and lunar festivals are not listed");
    }
    lunar_detail_ = text_.Add("lunar birthday");
    const SideReader reader(q_, config_, days_);
    SideReads reads;
    ReadBeside beside(store_, share_, [&](sqlite3* db, const Store* store) -> Status {
      FB_ASSIGN_OR_RETURN(reads, reader.Read(db, store));
      return Status::Ok();
    });
    FB_RETURN_IF_ERROR(Customers());
    FB_RETURN_IF_ERROR(beside.Finish());
    FB_RETURN_IF_ERROR(Contacts(reads));
    FB_RETURN_IF_ERROR(CustomerOccasions());
    FB_RETURN_IF_ERROR(FamilyBirthdays(reads));
    Policies(reads);
    FB_RETURN_IF_ERROR(Claims());
    FB_RETURN_IF_ERROR(Tasks());
    FB_RETURN_IF_ERROR(Festivals());
    FB_RETURN_IF_ERROR(Holidays());
    if (text_.full() || reads.text.full()) {
      return Status(ErrorCode::kInvalidArgument,
                    "the range holds more occasions than one calendar can list (" + std::to_string(items_.size()) +
                        "); ask for fewer days",
                    "to");
    }
    // Sorted through keys: most comparisons end on the day, the kind or the id's first
    // eight bytes (big-endian) without reading the id.
    struct Key {
      int64_t day;
      uint64_t id8;
      uint32_t kind;
      uint32_t at;
    };
    std::vector<Key> keys;
    keys.reserve(items_.size());
    PrefaultCapacity(keys);
    for (uint32_t i = 0; i < items_.size(); ++i) {
      const Item& o = items_[i];
      const std::string_view id = text_.View(o.id);
      uint64_t id8 = 0;
      for (size_t k = 0; k < 8; ++k) id8 = (id8 << 8) | (k < id.size() ? static_cast<unsigned char>(id[k]) : 0u);
      keys.push_back(Key{o.date.ToDays(), id8, o.kind, i});
    }
    std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
      if (a.day != b.day) return a.day < b.day;
      if (a.kind != b.kind) return a.kind < b.kind;
      if (a.id8 != b.id8) return a.id8 < b.id8;
      return text_.View(items_[a.at].id) < text_.View(items_[b.at].id);
    });
    order_.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) order_[i] = keys[i].at;
    return Status::Ok();
  }

  const std::vector<std::string>& notices() const { return notices_; }
  size_t size() const { return order_.size(); }
  // The i-th occasion in calendar order.
  OccasionView View(size_t i) const {
    const Item& o = items_[order_[i]];
    OccasionView v;
    v.id = text_.View(o.id);
    v.kind = kKinds[o.kind].kind;
    v.category = kKinds[o.kind].category;
    v.title = text_.View(o.title);
    v.customer_id = o.customer != IdIndex::kNone ? customers_.IdAt(o.customer) : text_.View(o.customer_id);
    v.customer_name = text_.View(o.customer_name);
    v.owner_agent = text_.View(o.owner_agent);
    v.subject_id = text_.View(o.subject_id);
    v.detail = text_.View(o.detail);
    v.date = o.date;
    v.overdue = o.overdue;
    v.done = o.done;
    v.greet_customers = o.greet_customers;
    return v;
  }

 private:
  bool InRange(const Date& d) const { return q_.from <= d && d <= q_.to; }

  Item& Add(const Date& date, Kind kind, std::string_view subject) {
    Item& o = items_.emplace_back();
    key_.assign(kKinds[kind].kind).append(1, '|').append(subject).append(1, '|').append(date.ToString());
    o.id = text_.Add(DerivedId(key_));
    o.date = date;
    o.kind = kind;
    return o;
  }

  // An occasion of customer `c`; `subject` is its policy, claim or family member, if any.
  Item& AddFor(const Date& date, Kind kind, const CustomerInfo& c, std::string_view subject = {}) {
    Item& o = Add(date, kind, subject.empty() ? customers_.IdOf(c) : subject);
    o.customer = customers_.RowOf(c);
    o.customer_name = c.name;
    o.owner_agent = c.owner;
    if (!subject.empty()) o.subject_id = text_.Add(subject);
    return o;
  }

  // A dated item that stays due until done: listed on its date, or as overdue in
  // today's view once its date has passed.
  bool DueOrOverdue(const Date& due, bool* overdue) const {
    *overdue = false;
    if (InRange(due)) return true;
    if (q_.with_overdue && due < q_.from) {
      *overdue = true;
      return true;
    }
    return false;
  }

  // Birthdays in range of someone born on `birth`, lunar or solar.
  Status Birthdays(const Date& birth, bool lunar, std::vector<Date>& out) {
    if (!lunar) {
      for (int y = q_.from.year; y <= q_.to.year; ++y) {
        const Date d = InYear(y, birth.month, birth.day);
        if (InRange(d) && birth < d) out.push_back(d);
      }
      return Status::Ok();
    }
    if (!lunar_.available()) return Status::Ok();
    auto born = lunar_born_.find(birth.ToDays());
    if (born == lunar_born_.end()) {
      FB_ASSIGN_OR_RETURN(LunarDate l, lunar_.ToLunar(birth));
      born = lunar_born_.emplace(birth.ToDays(), l).first;
    }
    for (int y = q_.from.year - 1; y <= q_.to.year; ++y) {
      FB_ASSIGN_OR_RETURN(Date d, Solar(y, born->second.month, born->second.day));
      if (InRange(d) && birth < d) out.push_back(d);
    }
    return Status::Ok();
  }

  Result<Date> Solar(int year, int month, int day) {
    const int key = (year * 13 + month) * 31 + day;
    auto it = solar_.find(key);
    if (it != solar_.end()) return it->second;
    FB_ASSIGN_OR_RETURN(Date d, lunar_.ToSolar(year, month, day));
    solar_.emplace(key, d);
    return d;
  }

  // The customers of the query. Every table is read in one pass in storage order and joined
  // here by id: sorted or per-row SQL lookups cost more than the whole calendar.
  Status Customers() {
    FB_ASSIGN_OR_RETURN(const size_t count, CustomerCount(store_));
    customers_.Reserve(count);
    text_.Reserve(64 * count + 4096);  // names and owners, then ~40 bytes an occasion
    {
      FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
          "SELECT id, name, owner_agent, kind, birth_date, lunar_birthday, value_tier, lifecycle_stage, "
          "last_contact_at, created_at FROM customers WHERE ?1 = '' OR owner_agent = ?1"));
      st.Bind(1, q_.agent);
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        CustomerInfo& c = customers_.Add(st.Text(0));
        c.name = text_.Add(st.Text(1));
        c.owner = Owner(st.Text(2));
        c.person = st.Text(3) == "person";
        if (const auto birth = DateOf(st, 4)) {
          c.birth = *birth;
          c.has_birth = true;
        }
        c.lunar = st.OptInt(5).value_or(0) == 1;
        c.tier = TierOf(st.IsNull(6) ? std::string_view("general") : st.Text(6));
        c.left = st.Text(7) == "left";
        c.last_contact_ms = std::max(st.OptInt(8).value_or(0), st.OptInt(9).value_or(0));
      }
    }
    return Status::Ok();
  }

  // Each customer's last contact (the latest visit) and marketing consent (the latest).
  Status Contacts(const SideReads& reads) {
    for (const SideReads::Visit& v : reads.visits) {
      if (CustomerInfo* c = customers_.Find(reads.text.View(v.customer))) {
        c->last_contact_ms = std::max(c->last_contact_ms, v.ms);
      }
    }
    FB_ASSIGN_OR_RETURN(Statement id_of, store_.Prepare("SELECT id FROM consents WHERE rowid = ?1"));
    for (const SideReads::Consent& g : reads.consents) {
      CustomerInfo* c = customers_.Find(reads.text.View(g.customer));
      if (!c) continue;
      if (g.at < c->consent_at) continue;
      if (g.at == c->consent_at) {  // same time: the greater id wins, as in (recorded_at, id) order
        FB_ASSIGN_OR_RETURN(std::string mine, ConsentId(id_of, g.rowid));
        FB_ASSIGN_OR_RETURN(std::string theirs, ConsentId(id_of, c->consent_rowid));
        if (mine < theirs) continue;
      }
      c->consent_at = g.at;
      c->consent_rowid = g.rowid;
      c->marketing = g.granted;
    }
    return Status::Ok();
  }

  // The customers' birthdays and revisits.
  Status CustomerOccasions() {
    items_.reserve(customers_.size() + 1024);
    std::vector<Date> dates;
    for (const CustomerInfo& c : customers_.rows()) {
      if (c.marketing) ++greet_;
      if (c.marketing && c.has_birth && c.person) {
        dates.clear();
        FB_RETURN_IF_ERROR(Birthdays(c.birth, c.lunar, dates));
        for (const Date& d : dates) {
          Item& o = AddFor(d, kBirthday, c);
          o.title = text_.Join({c.name, " birthday"});
          if (c.lunar) o.detail = lunar_detail_;
        }
      }
      if (c.left) continue;
      const TierInfo& tier = tiers_[c.tier];
      const Date due = ChinaDateOfMs(c.last_contact_ms).AddDays(tier.revisit_days);
      bool overdue = false;
      if (DueOrOverdue(due, &overdue)) {
        Item& o = AddFor(due, kRevisit, c);
        o.title = text_.Join({"revisit ", c.name});
        o.detail = tier.revisit_detail;
        o.overdue = overdue;
      }
    }
    return Status::Ok();
  }

  const CustomerInfo* Customer(std::string_view id) { return customers_.Find(id); }

  // An agent owns thousands of customers: the last owner's text is reused.
  TextRef Owner(std::string_view agent) {
    if (!(owner_set_ && text_.View(last_owner_) == agent)) {
      last_owner_ = text_.Add(agent);
      owner_set_ = true;
    }
    return last_owner_;
  }

  // One entry per distinct tier, shared by every customer of that tier.
  struct TierInfo {
    std::string name;
    int revisit_days;
    TextRef revisit_detail;
  };
  uint32_t TierOf(std::string_view tier) {
    for (uint32_t i = 0; i < tiers_.size(); ++i) {
      if (tiers_[i].name == tier) return i;
    }
    const int days = config_.Tier(tier).revisit_days;
    const TextRef detail = text_.Join({"every ", std::to_string(days), " days (", tier, ")"});
    tiers_.push_back(TierInfo{std::string(tier), days, detail});
    return static_cast<uint32_t>(tiers_.size() - 1);
  }

  static Result<std::string> ConsentId(Statement& id_of, int64_t rowid) {
    id_of.Reset();
    id_of.Bind(1, rowid);
    FB_ASSIGN_OR_RETURN(bool row, id_of.Step());
    return row ? id_of.String(0) : std::string();
  }

  Status FamilyBirthdays(const SideReads& reads) {
    std::vector<Date> dates;
    for (const SideReads::Member& m : reads.members) {
      const CustomerInfo* c = Customer(reads.text.View(m.customer));
      if (!c || !c->marketing) continue;
      dates.clear();
      FB_RETURN_IF_ERROR(Birthdays(m.birth, m.lunar, dates));
      for (const Date& d : dates) {
        Item& o = AddFor(d, kFamilyBirthday, *c, reads.text.View(m.id));
        o.title = text_.Join({reads.text.View(m.name), " birthday (", reads.text.View(m.relation), " of ", c->name, ")"});
        if (m.lunar) o.detail = lunar_detail_;
      }
    }
    return Status::Ok();
  }

  // The policies' occasions of the query's customers.
  void Policies(const SideReads& reads) {
    for (const SideReads::PolicyOccasion& p : reads.policies) {
      const CustomerInfo* c = Customer(reads.text.View(p.customer));
      if (!c) continue;
      Item& o = AddFor(p.date, p.kind, *c, reads.text.View(p.policy));
      o.title = text_.Add(reads.text.View(p.title));
      if (p.detail.len > 0) o.detail = text_.Add(reads.text.View(p.detail));
    }
  }

  Status Claims() {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT id, customer_id, type, claim_date, COALESCE(updated_at, created_at) FROM claims "
        "WHERE status NOT IN ('paid', 'rejected', 'closed')"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const CustomerInfo* c = Customer(st.Text(1));
      if (!c) continue;
      const Date due = ChinaDateOfMs(st.OptInt(4).value_or(0)).AddDays(config_.claim_follow_days);
      bool overdue = false;
      if (!DueOrOverdue(due, &overdue)) continue;
      Item& o = AddFor(due, kClaimFollowUp, *c, st.Text(0));
      o.title = text_.Join({"follow up ", st.Text(2), " claim of ", st.Text(3), " for ", c->name});
      o.overdue = overdue;
    }
    return Status::Ok();
  }

  Status Tasks() {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT id, title, customer_id, due_date, done, owner_agent FROM tasks "
        "WHERE (?3 = '' OR owner_agent = ?3) AND "
        "((due_date >= ?1 AND due_date <= ?2) OR (?4 = 1 AND done = 0 AND due_date < ?1))"));
    st.Bind(1, q_.from.ToString()).Bind(2, q_.to.ToString()).Bind(3, q_.agent).Bind(4, q_.with_overdue ? 1 : 0);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const auto due = DateOf(st, 3);
      if (!due) continue;
      Item& o = items_.emplace_back();
      o.id = text_.Add(st.Text(0));
      o.date = *due;
      o.kind = kTask;
      o.title = text_.Add(st.Text(1));
      o.subject_id = o.id;
      o.owner_agent = text_.Add(st.Text(5));
      o.done = st.OptInt(4).value_or(0) == 1;
      o.overdue = !o.done && *due < q_.today;
      if (!st.IsNull(2)) {
        if (const CustomerInfo* c = Customer(st.Text(2))) {
          o.customer = customers_.RowOf(*c);
          o.customer_name = c->name;
        } else {
          o.customer_id = text_.Add(st.Text(2));
        }
      }
    }
    return Status::Ok();
  }

  void Festival(const Date& d, const char* key, const char* title, const char* detail) {
    if (!InRange(d)) return;
    Item& o = Add(d, kFestival, key);
    o.title = text_.Add(title);
    o.detail = text_.Add(detail);
    o.greet_customers = greet_;
  }

  Status Festivals() {
    for (int y = q_.from.year; y <= q_.to.year; ++y) {
      Festival(Date{y, 1, 1}, "new_year", "元旦 New Year's Day", "solar 1-1");
      Festival(Date{y, 5, 1}, "labour_day", "劳动节 Labour Day", "solar 5-1");
      Festival(Date{y, 10, 1}, "national_day", "国庆节 National Day", "solar 10-1");
    }
    if (!lunar_.available()) return Status::Ok();
    struct Lunar {
      int month, day;
      const char* key;
      const char* title;
      const char* detail;
    };
    static constexpr Lunar kLunar[] = {
        {1, 1, "spring_festival", "春节 Spring Festival", "lunar 1-1"},
        {1, 15, "lantern", "元宵节 Lantern Festival", "lunar 1-15"},
        {5, 5, "dragon_boat", "端午节 Dragon Boat Festival", "lunar 5-5"},
        {8, 15, "mid_autumn", "中秋节 Mid-Autumn Festival", "lunar 8-15"},
        {9, 9, "double_ninth", "重阳节 Double Ninth Festival", "lunar 9-9"},
    };
    for (int y = q_.from.year - 1; y <= q_.to.year; ++y) {
      for (const auto& f : kLunar) {
        FB_ASSIGN_OR_RETURN(Date d, Solar(y, f.month, f.day));
        Festival(d, f.key, f.title, f.detail);
      }
      FB_ASSIGN_OR_RETURN(Date next_spring, Solar(y + 1, 1, 1));
      Festival(next_spring.AddDays(-1), "new_years_eve", "除夕 New Year's Eve", "last day of lunar year");
    }
    return Status::Ok();
  }

  Status Holidays() {
    FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(
        "SELECT id, date, kind, name FROM holidays WHERE date >= ?1 AND date <= ?2"));
    st.Bind(1, q_.from.ToString()).Bind(2, q_.to.ToString());
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const auto d = DateOf(st, 1);
      if (!d) continue;
      const bool off = st.Text(2) == "holiday";
      Item& o = items_.emplace_back();
      o.id = text_.Add(st.Text(0));
      o.date = *d;
      o.kind = off ? kHoliday : kWorkday;
      o.title = text_.Add(st.Text(3));
      o.detail = text_.Add(off ? "day off" : "make-up working day");
      o.subject_id = o.id;
    }
    return Status::Ok();
  }

  Store& store_;
  const CalendarQuery& q_;
  LunarCalendar& lunar_;
  const OperationConfig& config_;
  const uint32_t days_;  // DaysOfMonthIn the query's range
  const bool share_;
  std::vector<std::string> notices_;
  TextArena text_;
  TextRef lunar_detail_;
  TextRef last_owner_;
  bool owner_set_ = false;
  CustomerTable customers_;
  std::vector<TierInfo> tiers_;
  std::string key_;  // scratch for occasion ids
  std::unordered_map<int64_t, LunarDate> lunar_born_;
  std::unordered_map<int, Date> solar_;
  int64_t greet_ = 0;
  std::vector<Item> items_;
  std::vector<uint32_t> order_;  // items_ in calendar order: by date, then kind, then id
};

// JSON text appended to a string by hand. The calendar is the largest document Fieldbook
// writes (tens of MB), and a writer's per-key bookkeeping and per-character escape
// lookups were most of its cost; the output is the same as rapidjson's Writer gives.
class CalendarText {
 public:
  explicit CalendarText(std::string& out) : buf_(out) {}
  // Room for at least `n` more bytes; the pieces below assume it was made.
  void Room(size_t n) { buf_.Reserve(n); }
  // Room enough for `s` as a JSON string, escaped or not.
  static size_t Need(std::string_view s) { return 6 * s.size() + 2; }
  CalendarText& Raw(std::string_view s) {
    std::memcpy(&buf_.out[buf_.len], s.data(), s.size());
    buf_.len += s.size();
    return *this;
  }
  // A JSON string. Texts without characters to escape (nearly all) are copied whole;
  // the rest go through rapidjson's Writer so the escaping is the same.
  CalendarText& Str(std::string_view s) {
    if (NeedsEscape(s)) {
      StringJsonWriter(buf_).String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      return *this;
    }
    PutUnsafe(buf_, '"');
    Raw(s);
    PutUnsafe(buf_, '"');
    return *this;
  }
  // Whether `s` holds a control character, a quote or a backslash; eight bytes a step
  // (the calendar writes ~20 MB of text, and byte by byte this check was a quarter of it).
  static bool NeedsEscape(std::string_view s) {
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
    auto has_zero = [&](uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t v;
      std::memcpy(&v, s.data() + i, 8);
      // A byte below 0x20 (bytes of 0x80 and up, UTF-8, never count), '"' or '\\'.
      const bool control = ((v - 0x20 * kOnes) & ~v & kHigh) != 0;
      if (control || has_zero(v ^ ('"' * kOnes)) || has_zero(v ^ ('\\' * kOnes))) return true;
    }
    for (; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\') return true;
    }
    return false;
  }
  CalendarText& OptStr(std::string_view s) { return s.empty() ? Raw("null") : Str(s); }
  CalendarText& Bool(bool b) { return Raw(b ? "true" : "false"); }
  CalendarText& Int(int64_t v) {
    char digits[24];
    const char* end = rapidjson::internal::i64toa(v, digits);
    return Raw(std::string_view(digits, static_cast<size_t>(end - digits)));
  }
  CalendarText& Date(const fieldbook::Date& d) {  // ten digits and dashes: no allocation, nothing to escape
    const std::string text = d.ToString();
    PutUnsafe(buf_, '"');
    Raw(text);
    PutUnsafe(buf_, '"');
    return *this;
  }
  // Cuts the string to what was written.
  void Finish() { buf_.Finish(); }
  size_t Size() const { return buf_.len; }
  // Hands what was written to `sink` and starts again at the beginning of the string.
  void Drain(const std::function<void(std::string_view)>& sink) {
    sink(std::string_view(buf_.out.data(), buf_.len));
    buf_.len = 0;
  }

 private:
  StringOutput buf_;  // the growth policy the reports' writers use too
};

}  // namespace

namespace {

// Checks the query, builds its calendar in one read snapshot and hands the builder to `use`.
Status BuildCalendar(Store& store, const CalendarQuery& query, LunarCalendar& lunar,
                     const std::function<void(const Builder&)>& use) {
  if (query.to < query.from) {
    return Status(ErrorCode::kInvalidArgument,
                  "the range ends (" + query.to.ToString() + ") before it starts (" + query.from.ToString() + ")", "to");
  }
  if (query.to.ToDays() - query.from.ToDays() + 1 > kMaxCalendarDays) {
    return Status(ErrorCode::kInvalidArgument,
                  "at most " + std::to_string(kMaxCalendarDays) + " days in one calendar query", "to");
  }
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(store));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(store, profile.team));
  FB_ASSIGN_OR_RETURN(const bool share, ReadBeside::Worthwhile(store));
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin(TxnMode::kDeferred));  // one consistent snapshot
  Builder builder(store, query, lunar, config, share);
  FB_RETURN_IF_ERROR(builder.Run());
  FB_RETURN_IF_ERROR(txn.Commit());  // the builder holds copies of what it read
  use(builder);
  return Status::Ok();
}

// Writes the calendar into `out`; with a sink, hands it over whenever it passes a megabyte
// (and at the end) and reuses the same memory. `at(i)` views the i-th of `count` occasions.
template <class ViewAt>
void WriteCalendar(const CalendarQuery& query, bool lunar_available, const std::vector<std::string>& notices,
                   size_t count, const ViewAt& at, std::string& out,
                   const std::function<void(std::string_view)>* sink) {
  constexpr size_t kChunk = 1 << 20;
  out.reserve(sink ? kChunk + 64 * 1024 : 1024 + 400 * count);  // about 400 bytes an occasion
  CalendarText j(out);
  size_t need = 256;
  for (const std::string& n : notices) need += CalendarText::Need(n) + 1;
  j.Room(need);
  j.Raw("{\"from\":").Date(query.from).Raw(",\"to\":").Date(query.to);
  j.Raw(",\"today\":").Date(query.today).Raw(",\"lunar_available\":").Bool(lunar_available);
  j.Raw(",\"notices\":[");
  for (size_t i = 0; i < notices.size(); ++i) {
    if (i > 0) j.Raw(",");
    j.Str(notices[i]);
  }
  j.Raw("],\"count\":").Int(static_cast<int64_t>(count)).Raw(",\"occasions\":[");
  for (size_t i = 0; i < count; ++i) {
    if (sink && j.Size() >= kChunk) j.Drain(*sink);
    // The occasions' texts sit all over memory in calendar order: fetching ahead keeps
    // the loop from waiting on each of them in turn.
    if (i + 8 < count) {
      const OccasionView ahead = at(i + 8);
      for (const std::string_view t : {ahead.id, ahead.title, ahead.customer_id, ahead.detail}) {
        __builtin_prefetch(t.data());
      }
    }
    const OccasionView o = at(i);
    j.Room(256 + CalendarText::Need(o.id) + CalendarText::Need(o.kind) + CalendarText::Need(o.category) +
           CalendarText::Need(o.title) + CalendarText::Need(o.customer_id) + CalendarText::Need(o.customer_name) +
           CalendarText::Need(o.owner_agent) + CalendarText::Need(o.subject_id) + CalendarText::Need(o.detail));
    j.Raw(i == 0 ? "{\"id\":" : ",{\"id\":").Str(o.id);
    j.Raw(",\"date\":").Date(o.date).Raw(",\"kind\":").Str(o.kind).Raw(",\"category\":").Str(o.category);
    j.Raw(",\"title\":").Str(o.title).Raw(",\"customer_id\":").OptStr(o.customer_id);
    j.Raw(",\"customer_name\":").OptStr(o.customer_name).Raw(",\"owner_agent\":").OptStr(o.owner_agent);
    j.Raw(",\"subject_id\":").OptStr(o.subject_id).Raw(",\"detail\":").OptStr(o.detail);
    j.Raw(",\"overdue\":").Bool(o.overdue).Raw(",\"done\":").Bool(o.done);
    if (o.greet_customers >= 0) j.Raw(",\"greet_customers\":").Int(o.greet_customers);
    j.Raw("}");
  }
  j.Room(2);
  j.Raw("]}");
  if (sink) {
    j.Drain(*sink);
  } else {
    j.Finish();
  }
}

void WriteResult(const CalendarResult& r, std::string& out, const std::function<void(std::string_view)>* sink) {
  WriteCalendar(r.query, r.lunar_available, r.notices, r.occasions.size(),
                [&](size_t i) { return ViewOf(r.occasions[i]); }, out, sink);
}

void WriteBuilt(const Builder& b, const CalendarQuery& query, LunarCalendar& lunar, std::string& out,
                const std::function<void(std::string_view)>* sink) {
  WriteCalendar(query, lunar.available(), b.notices(), b.size(), [&](size_t i) { return b.View(i); }, out, sink);
}

}  // namespace

Result<CalendarResult> ServiceCalendar(Store& store, const CalendarQuery& query, LunarCalendar& lunar) {
  CalendarResult out;
  FB_RETURN_IF_ERROR(BuildCalendar(store, query, lunar, [&](const Builder& b) {
    out.query = query;
    out.lunar_available = lunar.available();
    out.notices = b.notices();
    out.occasions.resize(b.size());
    for (size_t i = 0; i < b.size(); ++i) {
      const OccasionView v = b.View(i);
      Occasion& o = out.occasions[i];
      o.id = v.id;
      o.date = v.date;
      o.kind = v.kind;
      o.category = v.category;
      o.title = v.title;
      o.customer_id = v.customer_id;
      o.customer_name = v.customer_name;
      o.owner_agent = v.owner_agent;
      o.subject_id = v.subject_id;
      o.detail = v.detail;
      o.overdue = v.overdue;
      o.done = v.done;
      o.greet_customers = v.greet_customers;
    }
  }));
  return out;
}

Result<std::string> ServiceCalendarJson(Store& store, const CalendarQuery& query, LunarCalendar& lunar) {
  std::string out;
  FB_RETURN_IF_ERROR(BuildCalendar(store, query, lunar,
                                   [&](const Builder& b) { WriteBuilt(b, query, lunar, out, nullptr); }));
  return out;
}

Status WriteServiceCalendarJson(Store& store, const CalendarQuery& query, LunarCalendar& lunar,
                                const std::function<void(std::string_view)>& sink) {
  std::string buffer;
  return BuildCalendar(store, query, lunar, [&](const Builder& b) { WriteBuilt(b, query, lunar, buffer, &sink); });
}

std::string CalendarJson(const CalendarResult& r) {
  std::string out;
  WriteResult(r, out, nullptr);
  return out;
}

void WriteCalendarJson(const CalendarResult& r, const std::function<void(std::string_view)>& sink) {
  std::string buffer;
  WriteResult(r, buffer, &sink);
}

Result<int> WorkingDays(Store& store, const Date& from, const Date& to) {
  std::map<std::string, bool> announced;  // date -> working
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT date, kind FROM holidays WHERE date >= ?1 AND date <= ?2 ORDER BY date, id"));
  st.Bind(1, from.ToString()).Bind(2, to.ToString());
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    announced[st.String(0)] = st.Text(1) == "workday";
  }
  int days = 0;
  for (Date d = from; d <= to; d = d.AddDays(1)) {
    auto it = announced.find(d.ToString());
    const bool working = it != announced.end() ? it->second : d.Weekday() < 5;
    if (working) ++days;
  }
  return days;
}

}  // namespace fieldbook
