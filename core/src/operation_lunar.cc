// Lunar dates through ICU's public Calendar API ("zh_CN@calendar=chinese"): ICU months
// are 0-based and a leap month is flagged by UCAL_IS_LEAP_MONTH; UCAL_EXTENDED_YEAR
// numbers lunar years so that extended year - 2637 is the Gregorian year the lunar year
// begins in.
#include "fieldbook/core/operation_calendar.h"

#if FIELDBOOK_WITH_ICU
#include <unicode/calendar.h>
#include <unicode/locid.h>
#include <unicode/timezone.h>
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
class IcuLunarCalendar final : public LunarCalendar {
 public:
  explicit IcuLunarCalendar(std::unique_ptr<icu::Calendar> cal) : cal_(std::move(cal)) {}
  bool available() const override { return true; }

  Result<LunarDate> ToLunar(const Date& solar) override {
    UErrorCode status = U_ZERO_ERROR;
    cal_->clear();
    // Noon UTC is the same day in China, clear of any day boundary.
    cal_->setTime(static_cast<UDate>(MsOfDate(solar) + 12 * 3600 * 1000), status);
    LunarDate d;
    d.year = cal_->get(UCAL_EXTENDED_YEAR, status) - kExtendedYearOffset;
    d.month = cal_->get(UCAL_MONTH, status) + 1;
    d.leap = cal_->get(UCAL_IS_LEAP_MONTH, status) != 0;
    d.day = cal_->get(UCAL_DATE, status);
    if (U_FAILURE(status)) return Failed("converting " + solar.ToString() + " to a lunar date", status);
    return d;
  }

  Result<Date> ToSolar(int lunar_year, int month, int day) override {
    if (month < 1 || month > 12 || day < 1 || day > 30) {
      return Status(ErrorCode::kInvalidArgument,
                    "no lunar date " + std::to_string(month) + "-" + std::to_string(day));
    }
    UErrorCode status = U_ZERO_ERROR;
    cal_->clear();
    cal_->set(UCAL_EXTENDED_YEAR, lunar_year + kExtendedYearOffset);
    cal_->set(UCAL_MONTH, month - 1);
    cal_->set(UCAL_IS_LEAP_MONTH, 0);
    cal_->set(UCAL_DATE, 1);
    const int last = cal_->getActualMaximum(UCAL_DATE, status);
    cal_->set(UCAL_DATE, day > last ? last : day);
    const UDate ms = cal_->getTime(status);
    if (U_FAILURE(status)) {
      return Failed("converting lunar " + std::to_string(month) + "-" + std::to_string(day), status);
    }
    return DateOfMs(static_cast<int64_t>(ms));
  }

 private:
  static Status Failed(const std::string& what, UErrorCode status) {
    return Status(ErrorCode::kInternal, what + ": ICU error " + u_errorName(status));
  }
  std::unique_ptr<icu::Calendar> cal_;
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

Result<Date> LunarBirthdayIn(LunarCalendar& lunar, const Date& birth, int year) {
  FB_ASSIGN_OR_RETURN(LunarDate born, lunar.ToLunar(birth));
  return lunar.ToSolar(year, born.month, born.day);
}

}  // namespace fieldbook
