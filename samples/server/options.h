// fieldbook-server's command line: flags, environment fallbacks and their validation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fieldbook::server_cli {

struct RunOptions {
  std::string db;        // SQLite file; exactly one of db and postgres is set
  std::string postgres;  // libpq connection string or URI
  std::string host;
  uint16_t port = 0;
  std::string secret_file;
  std::string tls_cert;
  std::string tls_key;
  int threads = 0;           // 0: chosen from the core count
  int64_t max_skew_ms = -1;  // -1: the service default
  int64_t max_body_bytes = -1;
  int page_size = 0;
  int64_t max_blob_bytes = -1;      // -1: the Api default (25 MiB)
  int64_t blob_grace_seconds = -1;  // -1: the Api default (24 h)
};

struct TokenOptions {
  std::string secret_file;
  std::string tenant;
  std::string agent;
  std::string team;
  std::string role;
  int64_t ttl_seconds = 0;
};

// The database of `renew-epoch` (flags or FIELDBOOK_DB / FIELDBOOK_POSTGRES).
struct DatabaseOptions {
  std::string db;
  std::string postgres;
};

// Either options or a message saying what is wrong with the command line.
template <typename T>
struct Parsed {
  std::optional<T> options;
  std::string error;
};

// args excludes the program name (and, for the token command, the word "token").
// Run flags missing from args are taken from FIELDBOOK_* environment variables.
Parsed<RunOptions> ParseRunOptions(const std::vector<std::string>& args);
Parsed<TokenOptions> ParseTokenOptions(const std::vector<std::string>& args);
Parsed<DatabaseOptions> ParseDatabaseOptions(const std::vector<std::string>& args);

extern const char kUsage[];

}  // namespace fieldbook::server_cli
