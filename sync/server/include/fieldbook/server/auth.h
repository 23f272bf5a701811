// Bearer tokens: "fb1.<payload>.<signature>", payload = base64url(JSON claims),
// signature = base64url(HMAC-SHA256(secret, "fb1.<payload>")). Verification is
// constant-time; expired, tampered or malformed tokens are refused with distinct codes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fieldbook/core/status.h"
#include "fieldbook/server/server_store.h"

namespace fieldbook::server {

struct TokenClaims {
  std::string tenant;
  std::string agent;
  std::string team;
  Role role = Role::kAgent;
  int64_t issued_at_ms = 0;
  int64_t expires_at_ms = 0;
  std::string id;  // unique token id, for revocation
};

std::string SignToken(const TokenClaims& claims, std::string_view secret);
Result<TokenClaims> VerifyToken(std::string_view token, std::string_view secret, int64_t now_ms);

// Reads a secret file (trailing newline ignored); at least 16 bytes.
Result<std::string> ReadSecretFile(const std::string& path);

std::string_view RoleName(Role role);
std::optional<Role> RoleFromName(std::string_view name);

std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace fieldbook::server
