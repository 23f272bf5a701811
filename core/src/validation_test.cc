#include "fieldbook/core/validation.h"

#include <catch2/catch.hpp>

using namespace fieldbook;

TEST_CASE("resident ID numbers are checked by length, birth date and checksum", "[validation]") {
  auto ok = NormalizeResidentId("11010519491231002x");
  REQUIRE(ok.ok());
  CHECK(*ok == "11010519491231002X");
  const auto facts = ResidentIdInfo(*ok);
  CHECK(facts.birth_date.ToString() == "1949-12-31");
  CHECK_FALSE(facts.male);
  CHECK(ResidentIdInfo("110101199003074477").male);

  CHECK(NormalizeResidentId("110101199003074478").status().code() == ErrorCode::kInvalidField);  // checksum
  CHECK(NormalizeResidentId("11010119900230447X").status().message().find("birth date") != std::string::npos);
  CHECK(!NormalizeResidentId("1101011990030744").ok());    // 16 characters
  CHECK(!NormalizeResidentId("11010119900307447A").ok());  // bad check character
  CHECK(!NormalizeResidentId("000000199003074477").ok());  // no region
}

TEST_CASE("unified social credit codes are checked by alphabet and MOD 31 checksum", "[validation]") {
  CHECK(NormalizeCreditCode("91350100M000100Y43").ok());
  auto lower = NormalizeCreditCode("91110108551385082q");
  REQUIRE(lower.ok());
  CHECK(*lower == "91110108551385082Q");
  CHECK(!NormalizeCreditCode("91350100M000100Y44").ok());
  CHECK(NormalizeCreditCode("91350100I000100Y43").status().message().find("position 9") != std::string::npos);
  CHECK(!NormalizeCreditCode("9135010").ok());
}

TEST_CASE("phone numbers: mainland mobiles normalised, landlines and international kept", "[validation]") {
  CHECK(*NormalizePhone("13800138000") == "13800138000");
  CHECK(*NormalizePhone("+86 138-0013-8000") == "13800138000");
  CHECK(*NormalizePhone("0086 13800138000") == "13800138000");
  CHECK(*NormalizePhone("010-62345678") == "010-62345678");
  CHECK(*NormalizePhone("+49-276-2375979") == "+49-276-2375979");
  CHECK(!NormalizePhone("12800138000").ok());   // 12x is not a mobile prefix
  CHECK(!NormalizePhone("1380013800").ok());    // ten digits
  CHECK(!NormalizePhone("call me").ok());
  CHECK(!NormalizePhone("").ok());
}

TEST_CASE("email and UTF-8 checks", "[validation]") {
  CHECK(ValidateEmail("zhang.san@example.cn").ok());
  CHECK(!ValidateEmail("zhang.san@example").ok());
  CHECK(!ValidateEmail("@example.cn").ok());
  CHECK(!ValidateEmail("a b@example.cn").ok());
  CHECK(IsValidUtf8("张三 😀"));
  CHECK_FALSE(IsValidUtf8(std::string("\xc3\x28", 2)));
  CHECK_FALSE(IsValidUtf8(std::string("\xed\xa0\x80", 3)));  // surrogate
  CHECK_FALSE(IsValidUtf8(std::string("\xf0\x9f\x98", 3)));  // truncated
}

TEST_CASE("calendar dates parse strictly and do arithmetic across leap years", "[validation]") {
  CHECK(ParseDate("2024-02-29").ok());
  CHECK(!ParseDate("2023-02-29").ok());
  CHECK(!ParseDate("2024-2-9").ok());
  // A year the archive does not hold is said to be one, not called a day that does not exist.
  CHECK(ParseDate("9999-12-31").status().message().find("1900-2200") != std::string::npos);
  CHECK(ParseDate("1899-12-31").status().message().find("1900-2200") != std::string::npos);
  CHECK(ParseDate("2200-12-31").ok());
  CHECK(ParseDate("2023-02-29").status().message().find("no such calendar day") != std::string::npos);
  CHECK(ParseDate("2024-01-31")->AddMonths(1).ToString() == "2024-02-29");
  CHECK((Date{7, 1, 9}).ToString() == "0007-01-09");
  CHECK((Date{9999, 12, 31}).ToString() == "9999-12-31");
  CHECK((Date{10000, 1, 1}).ToString() == "10000-01-01");
  CHECK((Date{-1, 1, 1}).ToString() == "-001-01-01");
  CHECK(ParseDate("2026-11-23")->Weekday() == 0);  // a Monday
  CHECK(*ParseTimestampMs("1970-01-01T00:00:01.5Z") == 1500);
  CHECK(*ParseTimestampMs("2024-05-01T08:00:00+08:00") == *ParseTimestampMs("2024-05-01T00:00:00Z"));
  CHECK(FormatTimestampMs(*ParseTimestampMs("2022-08-22T23:51:41.463Z")) == "2022-08-22T23:51:41.463Z");
}
