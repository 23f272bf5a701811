#include "fieldbook/server/log_redaction.h"

#include <cctype>

namespace fieldbook::server {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
}

}  // namespace

std::string RedactPersonalData(std::string_view text) {
  constexpr const char* kMask = "***";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      while (i < text.size() && static_cast<unsigned char>(text[i]) >= 0x80) ++i;
      out += kMask;
      continue;
    }
    if (IsWordChar(text[i])) {
      size_t end = i;
      while (end < text.size() && IsWordChar(text[end])) ++end;
      const std::string_view word = text.substr(i, end - i);
      if (word.find('@') != std::string_view::npos) {
        out += kMask;
        i = end;
        continue;
      }
      // Within the word, long digit runs go; the rest stays.
      size_t k = 0;
      while (k < word.size()) {
        if (!IsDigit(word[k])) {
          out += word[k++];
          continue;
        }
        size_t run = k;
        while (run < word.size() && IsDigit(word[run])) ++run;
        if (run - k >= 6) {
          if (run < word.size() && (word[run] == 'X' || word[run] == 'x')) ++run;
          out += kMask;
        } else {
          out.append(word.substr(k, run - k));
        }
        k = run;
      }
      i = end;
      continue;
    }
    out += text[i++];
  }
  return out;
}

}  // namespace fieldbook::server
