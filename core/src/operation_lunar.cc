// Lunar dates through ICU's public Calendar API ("zh_CN@calendar=chinese"): ICU months
// are 0-based and a leap month is flagged by UCAL_IS_LEAP_MONTH; UCAL_EXTENDED_YEAR
// numbers lunar years so that extended year - 2637 is the Gregorian year the lunar year
// begins in.
#include "fieldbook/core/operation_calendar.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <vector>

#include <sqlite3.h>

#if FIELDBOOK_WITH_ICU
#include <unicode/calendar.h>
#include <unicode/locid.h>
#include <unicode/timezone.h>
#include <unicode/uversion.h>
#endif

namespace fieldbook {
namespace {

constexpr int kExtendedYearOffset = 2637;

class NoLunarCalendar final : public LunarCalendar {
 public:
  bool available() const override { return false; }
  Result<LunarDate> ToLunar(const Date&) override { return Unavailable(); }
  Result<Date> ToSolar(int, int, int) override { return Unavailable(); }

 private:
  static Status Unavailable() {
    return Status(ErrorCode::kUnavailable,
                  "lunar dates are unavailable: this build of Fieldbook has no ICU (build with "
                  "FIELDBOOK_WITH_ICU=ON and libicu)");
  }
};

#if FIELDBOOK_WITH_ICU
// ICU's Chinese calendar computes new moons astronomically (~0.1 ms a conversion), so each
// lunar year is read from ICU once, as the list of its months' first days, and every
// conversion after that is a lookup.
class IcuLunarCalendar final : public LunarCalendar {
 public:
  explicit IcuLunarCalendar(std::unique_ptr<icu::Calendar> cal) : cal_(std::move(cal)) {}
  bool available() const override { return true; }

  Result<LunarDate> ToLunar(const Date& solar) override {
    const int64_t day = solar.ToDays();
    int year = solar.year;
    FB_ASSIGN_OR_RETURN(const Months* months, Year(year));
    if (day < months->front().first_day) {
      --year;
      FB_ASSIGN_OR_RETURN(months, Year(year));
    }
    // The last month starting on or before `day` (the final entry is next year's start).
    auto it = std::upper_bound(months->begin(), months->end() - 1, day,
                               [](int64_t d, const Month& m) { return d < m.first_day; });
    const Month& m = *(it - 1);
    return LunarDate{year, m.month, m.leap, static_cast<int>(day - m.first_day) + 1};
  }

  Result<Date> ToSolar(int lunar_year, int month, int day) override {
    if (month < 1 || month > 12 || day < 1 || day > 30) {
      return Status(ErrorCode::kInvalidArgument,
                    "no lunar date " + std::to_string(month) + "-" + std::to_string(day));
    }
    FB_ASSIGN_OR_RETURN(const Months* months, Year(lunar_year));
    for (size_t i = 0; i + 1 < months->size(); ++i) {
      const Month& m = (*months)[i];
      if (m.month != month || m.leap) continue;
      const int64_t length = (*months)[i + 1].first_day - m.first_day;
      return Date::FromDays(m.first_day + std::min<int64_t>(day, length) - 1);
    }
    return Status(ErrorCode::kInternal, "ICU gave no lunar month " + std::to_string(month) + " in " +
                                            std::to_string(lunar_year));
  }

 private:
  struct Month {
    int64_t first_day;  // days since 1970-01-01
    int month;          // 1..12; 0 for the closing entry (the next year's first day)
    bool leap;
  };
  using Months = std::vector<Month>;

  Result<const Months*> Year(int lunar_year) {
    auto found = years_.find(lunar_year);
    if (found != years_.end()) return &found->second;
    UErrorCode status = U_ZERO_ERROR;
    cal_->clear();
    cal_->set(UCAL_EXTENDED_YEAR, lunar_year + kExtendedYearOffset);
    cal_->set(UCAL_MONTH, 0);
    cal_->set(UCAL_IS_LEAP_MONTH, 0);
    cal_->set(UCAL_DATE, 1);
    Months months;
    // A lunar year has 12 or 13 months; the guard only bounds a misbehaving ICU.
    for (int guard = 0; guard < 15; ++guard) {
      const UDate ms = cal_->getTime(status);
      const int extended = cal_->get(UCAL_EXTENDED_YEAR, status);
      const int month = cal_->get(UCAL_MONTH, status) + 1;
      const bool leap = cal_->get(UCAL_IS_LEAP_MONTH, status) != 0;
      if (U_FAILURE(status)) return Failed("reading lunar year " + std::to_string(lunar_year), status);
      const int64_t first_day = DateOfMs(static_cast<int64_t>(ms)).ToDays();
      if (extended != lunar_year + kExtendedYearOffset) {
        months.push_back({first_day, 0, false});
        ++worked_out_;
        return &years_.emplace(lunar_year, std::move(months)).first->second;
      }
      months.push_back({first_day, month, leap});
      cal_->add(UCAL_MONTH, 1, status);
    }
    return Status(ErrorCode::kInternal, "ICU gave more than 13 months in lunar year " + std::to_string(lunar_year));
  }

 public:
  // "icu<version>;<year>:<first_day>,<month><L if leap> ...;..." with the closing entry's
  // month 0: each year as Year() lists it.
  std::string Saved() const override {
    std::string out = Tag();
    for (const auto& [year, months] : years_) {
      out += ';' + std::to_string(year) + ':';
      for (size_t i = 0; i < months.size(); ++i) {
        if (i > 0) out += ' ';
        out += std::to_string(months[i].first_day) + ',' + std::to_string(months[i].month) + (months[i].leap ? "L" : "");
      }
    }
    return out;
  }
  size_t YearCount() const override { return years_.size(); }
  size_t YearsWorkedOut() const override { return worked_out_; }

  void Restore(std::string_view saved) override {
    const std::string tag = Tag();
    if (saved.substr(0, tag.size()) != tag) return;
    std::map<int, Months> years;
    const char* p = saved.data() + tag.size();
    const char* const end = saved.data() + saved.size();
    auto number = [&](int64_t& v) {
      const auto r = std::from_chars(p, end, v);
      if (r.ec != std::errc()) return false;
      p = r.ptr;
      return true;
    };
    auto expect = [&](char c) { return p < end && *p == c ? (++p, true) : false; };
    while (p < end) {
      int64_t year = 0;
      if (!expect(';') || !number(year) || !expect(':') || year < 1 || year > 9999) return;
      Months months;
      for (;;) {
        int64_t first_day = 0, month = 0;
        if (!number(first_day) || !expect(',') || !number(month)) return;
        const bool leap = expect('L');
        months.push_back({first_day, static_cast<int>(month), leap});
        if (!expect(' ')) break;
      }
      if (!Consistent(static_cast<int>(year), months)) return;
      years[static_cast<int>(year)] = std::move(months);
    }
    // A year ends where the next begins.
    for (auto it = years.begin(); it != years.end(); ++it) {
      const auto next = std::next(it);
      if (next != years.end() && next->first == it->first + 1 &&
          it->second.back().first_day != next->second.front().first_day) {
        return;
      }
    }
    for (auto& [year, months] : years) years_.emplace(year, std::move(months));
  }

 private:
  static std::string Tag() { return std::string("icu") + U_ICU_VERSION; }

  // What Year() gives: a first day near the Gregorian new year (the lunar new year falls
  // between 21 January and 20 February), 12 or 13 months numbered 1..12 in order, one of
  // them repeated as a leap month after the regular one in a 13-month year, each 29 or 30
  // days, and a closing entry (month 0) for the next year's first day.
  static bool Consistent(int year, const Months& months) {
    if (months.size() != 13 && months.size() != 14) return false;
    const int64_t first = months.front().first_day;
    if (first < Date{year, 1, 19}.ToDays() || first > Date{year, 2, 22}.ToDays()) return false;
    const bool leap_year = months.size() == 14;
    int expected = 1;
    bool leap_seen = false;
    for (size_t i = 0; i + 1 < months.size(); ++i) {
      const Month& m = months[i];
      const int64_t length = months[i + 1].first_day - m.first_day;
      if (length != 29 && length != 30) return false;
      if (m.leap) {
        if (!leap_year || leap_seen || i == 0 || m.month != months[i - 1].month || months[i - 1].leap) return false;
        leap_seen = true;
        continue;
      }
      if (m.month != expected++) return false;
    }
    return expected == 13 && leap_seen == leap_year && months.back().month == 0 && !months.back().leap;
  }

  static Status Failed(const std::string& what, UErrorCode status) {
    return Status(ErrorCode::kInternal, what + ": ICU error " + u_errorName(status));
  }
  std::unique_ptr<icu::Calendar> cal_;
  std::map<int, Months> years_;
  size_t worked_out_ = 0;  // years in years_ that ICU gave (the rest were restored)
};
#endif

}  // namespace

std::unique_ptr<LunarCalendar> UnavailableLunarCalendar() { return std::make_unique<NoLunarCalendar>(); }

std::unique_ptr<LunarCalendar> MakeLunarCalendar() {
#if FIELDBOOK_WITH_ICU
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::Calendar> cal(icu::Calendar::createInstance(
      icu::TimeZone::getGMT()->clone(), icu::Locale("zh_CN@calendar=chinese"), status));
  if (U_SUCCESS(status) && cal) return std::make_unique<IcuLunarCalendar>(std::move(cal));
#endif
  return UnavailableLunarCalendar();
}

namespace {
constexpr char kLunarYearsKey[] = "lunar.years";
}  // namespace

std::unique_ptr<LunarCalendar> MakeLunarCalendar(Store& store) {
  auto lunar = MakeLunarCalendar();
  if (lunar->available()) {
    // A setting that cannot be read only costs the years' working out.
    auto saved = store.GetSetting(kLunarYearsKey);
    if (saved.ok() && *saved) lunar->Restore(**saved);
  }
  return lunar;
}

Status KeepLunarYears(Store& store, const LunarCalendar& lunar) {
  if (lunar.YearsWorkedOut() == 0 || sqlite3_db_readonly(store.handle(), "main") == 1) return Status::Ok();
  // Keeps the larger set: another process may have kept years meanwhile.
  FB_ASSIGN_OR_RETURN(std::optional<std::string> kept, store.GetSetting(kLunarYearsKey));
  if (kept) {
    auto other = MakeLunarCalendar();
    other->Restore(*kept);
    if (other->YearCount() >= lunar.YearCount()) return Status::Ok();
  }
  return store.SetSetting(kLunarYearsKey, lunar.Saved());
}

Result<Date> LunarBirthdayIn(LunarCalendar& lunar, const Date& birth, int year) {
  FB_ASSIGN_OR_RETURN(LunarDate born, lunar.ToLunar(birth));
  return lunar.ToSolar(year, born.month, born.day);
}

}  // namespace fieldbook
