#include "fieldbook/core/ids.h"

#include <cctype>

namespace fieldbook {

std::string HexEncode(const uint8_t* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string FormatUuid(const uint8_t* b) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
    out[pos++] = kHex[b[i] >> 4];
    out[pos++] = kHex[b[i] & 15];
  }
  return out;
}

std::string UuidV7(int64_t ms, const uint8_t* random16) {
  uint8_t b[16];
  for (int i = 0; i < 16; ++i) b[i] = random16[i];
  const auto t = static_cast<uint64_t>(ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(t >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 9562 variant
  return FormatUuid(b);
}

std::string NewUuidV7(Env& env) {
  uint8_t b[16];
  env.RandomBytes(b, sizeof b);
  return UuidV7(env.NowMs(), b);
}

bool IsUuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(t[i]))) {
      return false;
    }
  }
  return true;
}

bool IsSha256Hex(std::string_view t) {
  if (t.size() != 64) return false;
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace fieldbook
