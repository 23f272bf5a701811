// The service calendar: occasions to serve customers on, generated from the archive.
//
// Guarantees:
//  1. Occasions are computed on demand from synced rows, never stored; each has an id
//     derived from what it is (subject id, kind, date), so two devices holding the same
//     rows list the same occasions with the same ids.
//  2. A customer whose latest "marketing" consent is not a grant (or who has none) gets
//     no marketing occasions (birthdays, family birthdays, festival greetings); service
//     occasions (premium due, grace end, anniversaries, claims, revisits) and tasks stay.
//  3. Lunar dates come from ICU's Chinese calendar. A build without ICU lists everything
//     else and says, in `notices`, that lunar birthdays and festivals are unavailable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/operation.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

struct LunarDate {
  int year = 0;  // the Gregorian year in which this lunar year begins
  int month = 1;  // 1..12
  bool leap = false;
  int day = 1;  // 1..30
};

// Conversions between the Gregorian and the Chinese lunisolar calendar.
class LunarCalendar {
 public:
  virtual ~LunarCalendar() = default;
  virtual bool available() const = 0;
  virtual Result<LunarDate> ToLunar(const Date& solar) = 0;
  // The solar date of lunar (year, month, day) in the regular (non-leap) month. Day 30 in
  // a month of 29 days falls on the 29th. Birthdays in a leap month are kept on the
  // regular month of the same number (see DeclaredLunarBirthday).
  virtual Result<Date> ToSolar(int lunar_year, int month, int day) = 0;
  // The lunar years known so far, as text that Restore() in another process takes back;
  // how many there are; how many of them this calendar worked out itself (not taken back).
  // Empty and 0 for a calendar without ICU.
  virtual std::string Saved() const { return {}; }
  virtual size_t YearCount() const { return 0; }
  virtual size_t YearsWorkedOut() const { return 0; }
  // Takes back years from Saved() text. Text that does not parse, or that a different ICU
  // version wrote, or whose years do not hold together, is ignored as a whole.
  virtual void Restore(std::string_view /*saved*/) {}
};

// ICU's calendar when the build has ICU, otherwise UnavailableLunarCalendar().
std::unique_ptr<LunarCalendar> MakeLunarCalendar();
// MakeLunarCalendar() with the years kept in `store` (KeepLunarYears) taken back: ICU works
// each lunar year out astronomically, ~0.4 ms a year, and a 100k-customer book has lunar
// birthdays across seventy of them, which every new process (the CLI, an app's call)
// paid for again.
std::unique_ptr<LunarCalendar> MakeLunarCalendar(Store& store);
// Keeps the years `lunar` knows in `store` (a local setting, never synced) when it worked
// some out itself and knows more than the store keeps; otherwise, and for a store opened
// read-only, it does nothing. Callers call it after every calendar.
Status KeepLunarYears(Store& store, const LunarCalendar& lunar);
// Always answers kUnavailable with a message saying the build has no ICU.
std::unique_ptr<LunarCalendar> UnavailableLunarCalendar();

// The solar date of a lunar birthday in the lunar year beginning in `year`.
Result<Date> LunarBirthdayIn(LunarCalendar& lunar, const Date& birth, int year);

struct Occasion {
  std::string id;
  Date date;
  std::string kind;      // birthday, family_birthday, policy_anniversary, premium_due, grace_end,
                         // claim_follow_up, revisit, festival, holiday, workday, task
  std::string category;  // marketing, service, holiday, task
  std::string title;
  std::string customer_id;
  std::string customer_name;
  std::string owner_agent;
  std::string subject_id;  // the policy, claim, family member or task; empty otherwise
  std::string detail;      // e.g. "grace until 2026-05-01", "lunar 8-15"
  bool overdue = false;
  bool done = false;
  int64_t greet_customers = -1;  // festivals: customers with marketing consent
};

struct CalendarQuery {
  Date from;
  Date to;
  Date today;             // for overdue items
  bool with_overdue = false;  // also list items due before `from` and still open (today's view)
  std::string agent;      // only this agent's customers and tasks; empty = every row held
};

struct CalendarResult {
  CalendarQuery query;
  bool lunar_available = true;
  std::vector<std::string> notices;
  std::vector<Occasion> occasions;  // by date, then kind, then id
};

// At most this many days in one query.
inline constexpr int kMaxCalendarDays = 1830;  // five years

// Lists the occasions of [from, to] for the profile's agent, with the team's settings.
Result<CalendarResult> ServiceCalendar(Store& store, const CalendarQuery& query, LunarCalendar& lunar);
std::string CalendarJson(const CalendarResult& result);
// The same JSON handed to `sink` in pieces of about a megabyte, for a caller that writes it
// out (the CLI): a 100k-customer `today` is tens of MB that then never sit in memory whole.
void WriteCalendarJson(const CalendarResult& result, const std::function<void(std::string_view)>& sink);
// CalendarJson(ServiceCalendar(...)) without the Occasion objects in between: the texts
// go from the builder's compact form straight to JSON, about half the memory and time on
// a 100k-customer `today`. The Write form hands the JSON to `sink` in pieces of about a
// megabyte, and only once the whole calendar has been built: on an error nothing is written.
Result<std::string> ServiceCalendarJson(Store& store, const CalendarQuery& query, LunarCalendar& lunar);
Status WriteServiceCalendarJson(Store& store, const CalendarQuery& query, LunarCalendar& lunar,
                                const std::function<void(std::string_view)>& sink);

// Working days of [from, to]: Monday to Friday, less announced days off, plus announced
// make-up working days (holidays table).
Result<int> WorkingDays(Store& store, const Date& from, const Date& to);

}  // namespace fieldbook
