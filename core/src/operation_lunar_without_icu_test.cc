// operation_lunar.cc compiled without FIELDBOOK_WITH_ICU (CMake builds it a second time
// for this test): the lunar calendar reports itself unavailable with a clear message.
#include <catch2/catch.hpp>

#include "fieldbook/core/operation_calendar.h"

using namespace fieldbook;

TEST_CASE("lunar without ICU: unavailable, with a message naming ICU", "[operation][lunar]") {
  auto lunar = MakeLunarCalendar();
  CHECK_FALSE(lunar->available());
  auto l = lunar->ToLunar(Date{2026, 2, 17});
  REQUIRE_FALSE(l.ok());
  CHECK(l.status().code() == ErrorCode::kUnavailable);
  CHECK(l.status().message().find("no ICU") != std::string::npos);
  auto s = LunarBirthdayIn(*lunar, Date{1990, 10, 3}, 2026);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == ErrorCode::kUnavailable);
}
