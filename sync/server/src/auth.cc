#include "fieldbook/server/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <sstream>

#include "fieldbook/core/json.h"

namespace fieldbook::server {
namespace {

constexpr std::string_view kPrefix = "fb1.";

std::string Hmac(std::string_view secret, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAgent: return "agent";
    case Role::kLead: return "lead";
    case Role::kAdmin: return "admin";
  }
  return "agent";
}

std::optional<Role> RoleFromName(std::string_view name) {
  if (name == "agent") return Role::kAgent;
  if (name == "lead") return Role::kLead;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string Base64UrlEncode(std::string_view data) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                       static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == data.size()) {
    const uint32_t n = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  // The last character's unused low bits must be zero: otherwise several texts would
  // decode to the same bytes (a signature could be altered and still verify).
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string SignToken(const TokenClaims& c, std::string_view secret) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("tenant");
  w.String(c.tenant.c_str());
  w.Key("agent");
  w.String(c.agent.c_str());
  w.Key("team");
  w.String(c.team.c_str());
  w.Key("role");
  w.String(std::string(RoleName(c.role)).c_str());
  w.Key("iat");
  w.Int64(c.issued_at_ms / 1000);
  w.Key("exp");
  w.Int64(c.expires_at_ms / 1000);
  w.Key("jti");
  w.String(c.id.c_str());
  w.EndObject();
  const std::string head = std::string(kPrefix) + Base64UrlEncode(std::string_view(buf.GetString(), buf.GetSize()));
  return head + "." + Base64UrlEncode(Hmac(secret, head));
}

Result<TokenClaims> VerifyToken(std::string_view token, std::string_view secret, int64_t now_ms) {
  auto bad = [](const char* why) { return Status(ErrorCode::kUnauthorized, std::string("invalid token: ") + why); };
  if (token.size() > 4096 || token.substr(0, kPrefix.size()) != kPrefix) return bad("not a Fieldbook token");
  const size_t dot = token.rfind('.');
  if (dot <= kPrefix.size()) return bad("no signature");
  const std::string_view head = token.substr(0, dot);
  const auto signature = Base64UrlDecode(token.substr(dot + 1));
  const std::string expected = Hmac(secret, head);
  if (!signature || signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return bad("signature does not match");
  }
  const auto payload = Base64UrlDecode(head.substr(kPrefix.size()));
  if (!payload) return bad("payload is not base64url");
  auto doc = ParseJsonObject(*payload, "token payload");
  if (!doc.ok()) return bad("payload is not a JSON object");
  TokenClaims c;
  auto str = [&](const char* key, std::string& out) -> bool {
    if (!doc->HasMember(key) || !(*doc)[key].IsString()) return false;
    out = (*doc)[key].GetString();
    return true;
  };
  std::string role;
  if (!str("tenant", c.tenant) || !str("agent", c.agent) || !str("team", c.team) || !str("role", role) ||
      !str("jti", c.id) || !doc->HasMember("exp") || !(*doc)["exp"].IsInt64() || c.tenant.empty()) {
    return bad("claims are incomplete");
  }
  auto r = RoleFromName(role);
  if (!r) return bad("unknown role");
  c.role = *r;
  c.expires_at_ms = (*doc)["exp"].GetInt64() * 1000;
  if (doc->HasMember("iat") && (*doc)["iat"].IsInt64()) c.issued_at_ms = (*doc)["iat"].GetInt64() * 1000;
  if (now_ms >= c.expires_at_ms) return Status(ErrorCode::kTokenExpired, "token expired; ask for a new one");
  return c;
}

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kInvalidArgument, "cannot read secret file " + path, "secret");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < 16) {
    return Status(ErrorCode::kInvalidArgument, "secret file " + path + " must hold at least 16 bytes", "secret");
  }
  return secret;
}

}  // namespace fieldbook::server
