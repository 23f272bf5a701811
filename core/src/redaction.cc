#include "fieldbook/core/redaction.h"

namespace fieldbook {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordByte(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Length of the personal number starting at `at` (a run of digits standing alone), or 0.
size_t PersonalNumberAt(std::string_view s, size_t at) {
  size_t end = at;
  while (end < s.size() && IsDigit(s[end])) ++end;
  size_t n = end - at;
  if (n == 17 && end < s.size() && (s[end] == 'X' || s[end] == 'x')) ++end, ++n;
  if (end < s.size() && IsWordByte(s[end])) return 0;
  const std::string_view run = s.substr(at, n);
  if (n == 18 || n == 15) return n;  // resident ID numbers
  auto mobile = [](std::string_view d) { return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9'; };
  if (mobile(run)) return n;
  if (n == 13 && run.substr(0, 2) == "86" && mobile(run.substr(2))) return n;
  if (n == 15 && run.substr(0, 4) == "0086") return n;
  return 0;
}

}  // namespace

std::string RedactPersonalData(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (IsDigit(text[i]) && (i == 0 || !IsWordByte(text[i - 1]))) {
      const size_t n = PersonalNumberAt(text, i);
      if (n > 0) {
        out += "[redacted]";
        i += n;
        continue;
      }
      while (i < text.size() && IsWordByte(text[i])) out += text[i++];
      continue;
    }
    out += text[i++];
  }
  return out;
}

}  // namespace fieldbook
