// Dates and times as the archive stores them: calendar dates as "YYYY-MM-DD" text,
// instants as UTC milliseconds. All arithmetic is on the proleptic Gregorian calendar.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fieldbook/core/status.h"

namespace fieldbook {

struct Date {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31

  friend bool operator==(const Date& a, const Date& b) {
    return a.year == b.year && a.month == b.month && a.day == b.day;
  }
  friend bool operator!=(const Date& a, const Date& b) { return !(a == b); }
  // Field by field: the same order as ToDays for real calendar days, without computing it
  // (calendars compare dates hundreds of thousands of times a call).
  friend bool operator<(const Date& a, const Date& b) {
    if (a.year != b.year) return a.year < b.year;
    if (a.month != b.month) return a.month < b.month;
    return a.day < b.day;
  }
  friend bool operator<=(const Date& a, const Date& b) { return !(b < a); }

  // Days since 1970-01-01.
  int64_t ToDays() const;
  static Date FromDays(int64_t days);
  std::string ToString() const;  // "YYYY-MM-DD"
  // 0 = Monday .. 6 = Sunday
  int Weekday() const;
  Date AddDays(int64_t n) const { return FromDays(ToDays() + n); }
  // Same day n months later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29).
  Date AddMonths(int n) const;
};

bool IsLeapYear(int year);
int DaysInMonth(int year, int month);
// Strict "YYYY-MM-DD" with a real calendar day; years 1900..2200.
Result<Date> ParseDate(std::string_view text);
Date DateOfMs(int64_t ms);  // UTC calendar date of an instant
int64_t MsOfDate(const Date& d);  // UTC midnight

// Accepts "2024-05-01T08:30:00Z", "...T08:30:00.123Z", "...+08:00", or integer ms text.
Result<int64_t> ParseTimestampMs(std::string_view text);
// "2024-05-01T08:30:00.123Z"
std::string FormatTimestampMs(int64_t ms);

}  // namespace fieldbook
