#include "fieldbook/core/civil_time.h"

#include <cstdio>
#include <cstdlib>

namespace fieldbook {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[(month - 1) % 12];
}

int64_t Date::ToDays() const {
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

Date Date::FromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Date{static_cast<int>(y + (m <= 2)), static_cast<int>(m), static_cast<int>(d)};
}

std::string Date::ToString() const {
  // Digits by hand: calendars and reports format tens of thousands of dates a call, and
  // snprintf costs several times the rest of the work for each.
  if (year >= 0 && year <= 9999 && month >= 0 && month <= 99 && day >= 0 && day <= 99) {
    const char buf[10] = {static_cast<char>('0' + year / 1000),     static_cast<char>('0' + year / 100 % 10),
                          static_cast<char>('0' + year / 10 % 10),  static_cast<char>('0' + year % 10),
                          '-',
                          static_cast<char>('0' + month / 10),      static_cast<char>('0' + month % 10),
                          '-',
                          static_cast<char>('0' + day / 10),        static_cast<char>('0' + day % 10)};
    return std::string(buf, sizeof buf);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

int Date::Weekday() const {
  // 1970-01-01 was a Thursday (index 3).
  const int64_t w = (ToDays() + 3) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

Date Date::AddMonths(int n) const {
  int64_t total = static_cast<int64_t>(year) * 12 + (month - 1) + n;
  Date out;
  out.year = static_cast<int>(total / 12);
  out.month = static_cast<int>(total % 12) + 1;
  const int last = DaysInMonth(out.year, out.month);
  out.day = day > last ? last : day;
  return out;
}

Result<Date> ParseDate(std::string_view s) {
  Date d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !ReadDigits(s, 0, 4, &d.year) ||
      !ReadDigits(s, 5, 2, &d.month) || !ReadDigits(s, 8, 2, &d.day)) {
    return Status(ErrorCode::kInvalidField, "not a date in YYYY-MM-DD form");
  }
  if (d.year < 1900 || d.year > 2200) {
    return Status(ErrorCode::kInvalidField, "outside the years 1900-2200: " + std::string(s));
  }
  if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > DaysInMonth(d.year, d.month)) {
    return Status(ErrorCode::kInvalidField, "no such calendar day: " + std::string(s));
  }
  return d;
}

Date DateOfMs(int64_t ms) {
  int64_t days = ms / 86400000;
  if (ms % 86400000 < 0) --days;
  return Date::FromDays(days);
}

int64_t MsOfDate(const Date& d) { return d.ToDays() * 86400000; }

Result<int64_t> ParseTimestampMs(std::string_view s) {
  auto bad = []() {
    return Status(ErrorCode::kInvalidField, "not a timestamp (ISO 8601 like 2024-05-01T08:30:00Z, or UTC milliseconds)");
  };
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) {
    if (s.size() > 15) return bad();
    return static_cast<int64_t>(std::strtoll(std::string(s).c_str(), nullptr, 10));
  }
  if (s.size() < 10) return bad();
  auto date = ParseDate(s.substr(0, 10));
  if (!date.ok()) return bad();
  int64_t ms = MsOfDate(*date);
  size_t pos = 10;
  if (pos == s.size()) return ms;
  if (s[pos] != 'T' && s[pos] != ' ') return bad();
  int hh = 0, mi = 0, ss = 0;
  if (!ReadDigits(s, pos + 1, 2, &hh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
      !ReadDigits(s, pos + 4, 2, &mi)) {
    return bad();
  }
  pos += 6;
  if (pos < s.size() && s[pos] == ':') {
    if (!ReadDigits(s, pos + 1, 2, &ss)) return bad();
    pos += 3;
  }
  if (hh > 23 || mi > 59 || ss > 60) return bad();
  ms += (static_cast<int64_t>(hh) * 3600 + mi * 60 + ss) * 1000;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100, frac = 0;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) frac += (s[pos] - '0') * scale, scale /= 10;
      ++pos, ++digits;
    }
    if (digits == 0) return bad();
    ms += frac;
  }
  if (pos == s.size()) return ms;  // no zone: taken as UTC
  if (s[pos] == 'Z' && pos + 1 == s.size()) return ms;
  if ((s[pos] == '+' || s[pos] == '-') && s.size() - pos == 6 && s[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (!ReadDigits(s, pos + 1, 2, &oh) || !ReadDigits(s, pos + 4, 2, &om) || oh > 14 || om > 59) {
      return bad();
    }
    const int64_t offset = (static_cast<int64_t>(oh) * 60 + om) * 60000;
    return s[pos] == '+' ? ms - offset : ms + offset;
  }
  return bad();
}

std::string FormatTimestampMs(int64_t ms) {
  const Date d = DateOfMs(ms);
  int64_t rem = ms - MsOfDate(d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d.%03dZ", d.ToString().c_str(),
                static_cast<int>(rem / 3600000), static_cast<int>(rem / 60000 % 60),
                static_cast<int>(rem / 1000 % 60), static_cast<int>(rem % 1000));
  return buf;
}

}  // namespace fieldbook
