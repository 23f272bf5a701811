#include "sql_text.h"

#include <openssl/sha.h>

#include "fieldbook/core/ids.h"

namespace fieldbook::sync {

std::string SqlLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string HashHex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return HexEncode(digest, sizeof digest);
}

}  // namespace fieldbook::sync
