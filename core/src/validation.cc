#include "fieldbook/core/validation.h"

#include <cctype>

namespace fieldbook {
namespace {

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

}  // namespace

Result<std::string> NormalizeResidentId(std::string_view id) {
  if (id.size() != 18) {
    return Status(ErrorCode::kInvalidField, "a resident ID number has 18 characters, got " +
                                                std::to_string(id.size()));
  }
  std::string out(id);
  if (out[17] == 'x') out[17] = 'X';
  if (!AllDigits(std::string_view(out).substr(0, 17)) ||
      !(std::isdigit(static_cast<unsigned char>(out[17])) || out[17] == 'X')) {
    return Status(ErrorCode::kInvalidField,
                  "a resident ID number is 17 digits and a check digit or X");
  }
  if (out.compare(0, 6, "000000") == 0) {
    return Status(ErrorCode::kInvalidField, "resident ID number has no region code");
  }
  const std::string birth = out.substr(6, 4) + "-" + out.substr(10, 2) + "-" + out.substr(12, 2);
  if (!ParseDate(birth).ok()) {
    return Status(ErrorCode::kInvalidField, "resident ID number holds an impossible birth date");
  }
  static const int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static const char kCheck[] = "10X98765432";
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (out[i] - '0') * kWeights[i];
  const char expect = kCheck[sum % 11];
  if (out[17] != expect) {
    return Status(ErrorCode::kInvalidField, "resident ID number fails its checksum");
  }
  return out;
}

ResidentIdFacts ResidentIdInfo(std::string_view id) {
  ResidentIdFacts facts;
  auto d = ParseDate(std::string(id.substr(6, 4)) + "-" + std::string(id.substr(10, 2)) + "-" +
                     std::string(id.substr(12, 2)));
  if (d.ok()) facts.birth_date = *d;
  facts.male = ((id[16] - '0') % 2) == 1;
  return facts;
}

Result<std::string> NormalizeCreditCode(std::string_view code) {
  static const std::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  static const int kWeights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
  if (code.size() != 18) {
    return Status(ErrorCode::kInvalidField, "a unified social credit code has 18 characters, got " +
                                                std::to_string(code.size()));
  }
  std::string out(code);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int sum = 0;
  for (size_t i = 0; i < 18; ++i) {
    const size_t v = kAlphabet.find(out[i]);
    if (v == std::string_view::npos) {
      return Status(ErrorCode::kInvalidField, "unified social credit code has a character outside "
                                              "0-9 and A-Y (no I, O, S, V, Z) at position " +
                                                  std::to_string(i + 1));
    }
    if (i < 17) sum += static_cast<int>(v) * kWeights[i];
  }
  const int check = (31 - sum % 31) % 31;
  if (out[17] != kAlphabet[static_cast<size_t>(check)]) {
    return Status(ErrorCode::kInvalidField,
                  "unified social credit code fails its checksum");
  }
  return out;
}

bool IsMainlandMobile(std::string_view s) {
  return s.size() == 11 && AllDigits(s) && s[0] == '1' && s[1] >= '3' && s[1] <= '9';
}

Result<std::string> NormalizePhone(std::string_view phone) {
  auto bad = [&](const char* why) {
    // The rejected text may still be someone's number: it is never echoed.
    return Status(ErrorCode::kInvalidField, std::string(why));
  };
  if (phone.empty()) return bad("empty phone number");
  if (phone.size() > 32) return bad("phone number too long");
  std::string digits;
  for (size_t i = 0; i < phone.size(); ++i) {
    const char c = phone[i];
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (!((c == '+' && i == 0) || c == ' ' || c == '-' || c == '(' || c == ')')) {
      return bad("phone number may only hold digits, a leading +, spaces, dashes and brackets");
    }
  }
  const bool plus = phone[0] == '+';
  std::string national = digits;
  if (plus && digits.rfind("86", 0) == 0) national = digits.substr(2);
  else if (!plus && digits.rfind("0086", 0) == 0) national = digits.substr(4);
  else if (!plus && digits.size() == 13 && digits.rfind("86", 0) == 0) national = digits.substr(2);
  if (IsMainlandMobile(national)) return national;
  if (plus) {
    if (digits.size() < 7 || digits.size() > 15) return bad("international number needs 7 to 15 digits");
    if (digits.rfind("86", 0) == 0 && national.size() == 11) return bad("not a mainland mobile number");
    return std::string(phone);
  }
  if (digits[0] == '0' && digits.size() >= 10 && digits.size() <= 16) return std::string(phone);
  if (digits[0] == '1') return bad("not a mainland mobile number (1[3-9] and 9 more digits)");
  return bad("not a phone number (mobile, 0-prefixed landline, or +country code)");
}

Status ValidateEmail(std::string_view email) {
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) {
    return Status(ErrorCode::kInvalidField, "not an email address");
  }
  const std::string_view domain = email.substr(at + 1);
  const size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= domain.size()) {
    return Status(ErrorCode::kInvalidField, "email domain has no dot");
  }
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ') {
      return Status(ErrorCode::kInvalidField, "email address contains spaces");
    }
  }
  return Status::Ok();
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace fieldbook
