// The API's contract without sockets: its route table against docs/openapi.yaml, 405 with
// Allow, error bodies naming their field, canonical base64url in tokens, and metrics that
// neither count the scrape nor grow without bound.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "fieldbook/server/auth.h"
#include "fieldbook/sync/protocol.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

// (METHOD, path) of every operation under `paths:` in the OpenAPI document: paths are
// keys indented two spaces, operations keys indented four.
std::set<std::pair<std::string, std::string>> OpenApiOperations(const std::string& yaml) {
  std::set<std::pair<std::string, std::string>> out;
  std::istringstream in(yaml);
  std::string line, path;
  bool in_paths = false;
  for (; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ') {
      in_paths = line == "paths:";
      continue;
    }
    if (!in_paths) continue;
    if (line.rfind("  /", 0) == 0 && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
    } else if (line.size() > 4 && line.rfind("    ", 0) == 0 && line[4] != ' ' && line.back() == ':') {
      std::string method = line.substr(4, line.size() - 5);
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (method != "PARAMETERS" && method != "SUMMARY" && method != "DESCRIPTION") out.emplace(method, path);
    }
  }
  return out;
}

server::ApiRequest Request(const std::string& method, const std::string& target, const std::string& body = "",
                           const std::string& token = "") {
  server::ApiRequest r;
  r.method = method;
  r.target = target;
  r.body = body;
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  return r;
}

std::string HeaderOf(const server::ApiReply& reply, const std::string& name) {
  for (const auto& [k, v] : reply.headers) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

TEST_CASE("every route in the server is in docs/openapi.yaml and vice versa", "[server][contract]") {
  const std::string yaml = ReadFile(SourceDir() + "/docs/openapi.yaml");
  REQUIRE_FALSE(yaml.empty());
  const auto documented = OpenApiOperations(yaml);
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : server::Api::Routes()) served.emplace(r.method, r.path);
  for (const auto& op : served) {
    INFO("served but not documented: " << op.first << " " << op.second);
    CHECK(documented.count(op) == 1);
  }
  for (const auto& op : documented) {
    INFO("documented but not served: " << op.first << " " << op.second);
    CHECK(served.count(op) == 1);
  }
  CHECK(served.size() == documented.size());
}

TEST_CASE("a known path with the wrong method is a 405 naming the allowed methods", "[server][contract]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  auto get_sync = server.api->Handle(Request("GET", "/v1/sync"));
  CHECK(get_sync.status == 405);
  CHECK(HeaderOf(get_sync, "Allow") == "POST");
  CHECK(sync::DecodeError(get_sync.body)->code == "malformed_request");
  auto post_health = server.api->Handle(Request("POST", "/healthz"));
  CHECK(post_health.status == 405);
  CHECK(HeaderOf(post_health, "Allow") == "GET, HEAD");
  CHECK(server.api->Handle(Request("HEAD", "/healthz")).status == 200);
  const std::string admin = server.Token("boss", "", server::Role::kAdmin);
  auto get_revoke = server.api->Handle(Request("GET", "/v1/admin/devices/abc/revoke", "", admin));
  CHECK(get_revoke.status == 405);
  CHECK(HeaderOf(get_revoke, "Allow") == "POST");
  CHECK(server.api->Handle(Request("POST", "/v1/admin/devices/abc/unknown", "", admin)).status == 404);
  CHECK(server.api->Handle(Request("GET", "/v1/admin/devices/abc", "", admin)).status == 404);
}

TEST_CASE("error bodies carry the offending field as its own key", "[server][contract]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string body =
      R"({"protocol":1,"site":"s1","batch":"b1","changes":[{"t":"customers","r":"x","op":"update","h":1,"c":{"nope":1}}]})";
  auto reply = server.api->Handle(Request("POST", "/v1/sync", body, server.Token("agent-1", "team-1")));
  CHECK(reply.status == 400);
  auto error = sync::DecodeError(reply.body);
  REQUIRE(error);
  CHECK(error->code == "unknown_column");
  CHECK(error->field == "changes[0].c.nope");
  CHECK(reply.body.find(R"("field":"changes[0].c.nope")") != std::string::npos);
  // No field, no key.
  auto unauthorized = server.api->Handle(Request("POST", "/v1/sync", body));
  CHECK(unauthorized.body.find("\"field\"") == std::string::npos);
}

TEST_CASE("base64url in tokens must be canonical", "[server][auth]") {
  CHECK(server::Base64UrlDecode("QQ") == std::optional<std::string>("A"));
  CHECK(server::Base64UrlDecode("QUI") == std::optional<std::string>("AB"));
  // Same bytes with nonzero unused bits in the last character.
  CHECK_FALSE(server::Base64UrlDecode("QR"));
  CHECK_FALSE(server::Base64UrlDecode("QUJ"));
  CHECK_FALSE(server::Base64UrlDecode("Q"));
  // A signature altered only in those bits no longer verifies.
  server::TokenClaims claims;
  claims.tenant = "t1";
  claims.agent = "a";
  claims.expires_at_ms = int64_t{1} << 50;
  claims.id = "id";
  const std::string token = server::SignToken(claims, "secret-0123456789");
  REQUIRE(server::VerifyToken(token, "secret-0123456789", 0).ok());
  std::string altered = token;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t v = alphabet.find(altered.back());
  altered.back() = alphabet[v ^ 1];  // the signature is 32 bytes: its last character has 2 unused bits
  CHECK_FALSE(server::VerifyToken(altered, "secret-0123456789", 0).ok());
}

TEST_CASE("metrics: the scrape is not in flight, and devices not seen lately are dropped", "[server][metrics]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  auto scrape = server.api->Handle(Request("GET", "/metrics"));
  REQUIRE(scrape.status == 200);
  CHECK(scrape.body.find("\nfieldbook_requests_in_flight 0\n") != std::string::npos);

  server::ApiMetrics& m = server.api->metrics();
  const int64_t window = server::ApiMetrics::kConnectedWindowMs;
  const int64_t t0 = 1767225600000;
  for (int i = 0; i < 1000; ++i) m.SawDevice("t1/old-" + std::to_string(i), t0);
  m.SawDevice("t1/recent", t0 + window - 1000);
  m.SawDevice("t1/now", t0 + window + 61 * 1000);
  std::lock_guard<std::mutex> lock(m.mu);
  CHECK(m.devices_seen_ms.size() == 2);
  CHECK(m.devices_seen_ms.count("t1/recent") == 1);
}
