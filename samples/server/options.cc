#include "options.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

namespace fieldbook::server_cli {

const char kUsage[] =
    "usage:\n"
    "  fieldbook-server (--db FILE | --postgres URI) --listen HOST:PORT --secret FILE\n"
    "                   [--tls-cert FILE --tls-key FILE] [--threads N] [--max-skew-ms N]\n"
    "                   [--max-body-bytes N] [--page-size N] [--max-blob-bytes N] [--blob-grace-seconds N]\n"
    "  fieldbook-server token --secret FILE --tenant T --agent A --team T --role agent|lead|admin --ttl SECONDS\n"
    "  fieldbook-server renew-epoch (--db FILE | --postgres URI)\n"
    "\n"
    "run flags (environment variable in brackets; a flag wins over its variable):\n"
    "  --db FILE             embedded SQLite database, created if missing      [FIELDBOOK_DB]\n"
    "  --postgres URI        PostgreSQL instead (libpq URI or key=value string); several servers\n"
    "                        may share one database                            [FIELDBOOK_POSTGRES]\n"
    "  --listen HOST:PORT    address to serve on; PORT 0 picks a free port     [FIELDBOOK_LISTEN]\n"
    "  --secret FILE         token signing secret (first line)                 [FIELDBOOK_SECRET_FILE]\n"
    "  --tls-cert FILE       PEM certificate chain; with --tls-key serves HTTPS [FIELDBOOK_TLS_CERT]\n"
    "  --tls-key FILE        PEM private key                                   [FIELDBOOK_TLS_KEY]\n"
    "  --threads N           request threads, 1-256 (default: 2 per core, at least 4) [FIELDBOOK_THREADS]\n"
    "  --max-skew-ms N       refuse changes stamped further in the future (default 300000)\n"
    "                                                                          [FIELDBOOK_MAX_SKEW_MS]\n"
    "  --max-body-bytes N    largest request body after decompression (default 67108864)\n"
    "                                                                          [FIELDBOOK_MAX_BODY_BYTES]\n"
    "  --page-size N         rows per pulled page by default (default 1000)    [FIELDBOOK_PAGE_SIZE]\n"
    "  --max-blob-bytes N    largest attachment accepted (default 26214400)    [FIELDBOOK_MAX_BLOB_BYTES]\n"
    "  --blob-grace-seconds N  unreferenced attachments and idle partial uploads are deleted after\n"
    "                        this long (default 86400; docs/blobs.md)          [FIELDBOOK_BLOB_GRACE_SECONDS]\n"
    "\n"
    "The server prints \"listening on HOST:PORT\" on stdout once it accepts connections, logs one\n"
    "JSON object per request or event on stderr (personal data redacted), serves /healthz, /readyz\n"
    "and /metrics (Prometheus) without a token, and stops gracefully on SIGTERM/SIGINT (requests in\n"
    "flight finish). The token command prints a bearer token signed with the secret on stdout.\n"
    "renew-epoch, run with the servers stopped after restoring a backup, gives the database a new\n"
    "identity so every device pulls again from the beginning (docs/operations.md); it prints it.\n"
    "Exit codes: 0 ok, 1 cannot start (secret, database, address), 2 bad command line.\n";

namespace {

using Flags = std::map<std::string, std::string>;

// Every flag takes a value: "--name VALUE" or "--name=VALUE".
bool CollectFlags(const std::vector<std::string>& args, const std::set<std::string>& known, Flags& out,
                  std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      error = "unexpected argument " + arg;
      return false;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      error = "--" + name + " needs a value";
      return false;
    }
    if (known.count(name) == 0) {
      error = "unknown flag --" + name;
      return false;
    }
    if (!out.emplace(name, value).second) {
      error = "--" + name + " given twice";
      return false;
    }
  }
  return true;
}

std::optional<int64_t> ParseInt(const std::string& text, int64_t min, int64_t max) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return std::nullopt;
  return v;
}

// "127.0.0.1:8080", "localhost:0", "[::1]:8080".
bool ParseListen(const std::string& text, std::string& host, uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto p = ParseInt(text.substr(colon + 1), 0, 65535);
  if (!p || host.empty()) return false;
  port = static_cast<uint16_t>(*p);
  return true;
}

std::optional<std::string> Lookup(const Flags& flags, const std::string& name, const char* env) {
  auto it = flags.find(name);
  if (it != flags.end()) return it->second;
  if (env != nullptr) {
    if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return std::string(v);
  }
  return std::nullopt;
}

// A flag wins over either variable: --db with FIELDBOOK_POSTGRES set means SQLite.
bool ChooseDatabase(const Flags& flags, std::string& db_out, std::string& postgres_out, std::string& error) {
  const bool db_flag = flags.count("db") > 0, pg_flag = flags.count("postgres") > 0;
  auto db = pg_flag ? std::nullopt : Lookup(flags, "db", "FIELDBOOK_DB");
  auto postgres = db_flag ? std::nullopt : Lookup(flags, "postgres", "FIELDBOOK_POSTGRES");
  if (db_flag && pg_flag) {
    error = "--db and --postgres exclude each other: choose one database";
  } else if (db && postgres) {
    error = "FIELDBOOK_DB and FIELDBOOK_POSTGRES are both set: choose one database";
  } else if (!db && !postgres) {
    error = "missing --db FILE or --postgres URI (or FIELDBOOK_DB / FIELDBOOK_POSTGRES)";
  } else {
    db_out = db.value_or("");
    postgres_out = postgres.value_or("");
    return true;
  }
  return false;
}

}  // namespace

Parsed<DatabaseOptions> ParseDatabaseOptions(const std::vector<std::string>& args) {
  Parsed<DatabaseOptions> parsed;
  Flags flags;
  if (!CollectFlags(args, {"db", "postgres"}, flags, parsed.error)) return parsed;
  DatabaseOptions o;
  if (!ChooseDatabase(flags, o.db, o.postgres, parsed.error)) return parsed;
  parsed.options = std::move(o);
  return parsed;
}

Parsed<RunOptions> ParseRunOptions(const std::vector<std::string>& args) {
  Parsed<RunOptions> parsed;
  Flags flags;
  if (!CollectFlags(args, {"db", "postgres", "listen", "secret", "tls-cert", "tls-key", "threads", "max-skew-ms",
                           "max-body-bytes", "page-size", "max-blob-bytes", "blob-grace-seconds"},
                    flags, parsed.error)) {
    return parsed;
  }
  RunOptions o;
  auto fail = [&](std::string message) {
    parsed.error = std::move(message);
    return parsed;
  };
  if (!ChooseDatabase(flags, o.db, o.postgres, parsed.error)) return parsed;
  auto listen = Lookup(flags, "listen", "FIELDBOOK_LISTEN");
  if (!listen) return fail("missing --listen HOST:PORT (or FIELDBOOK_LISTEN)");
  if (!ParseListen(*listen, o.host, o.port)) return fail("--listen wants HOST:PORT with PORT 0-65535, got " + *listen);
  auto secret = Lookup(flags, "secret", "FIELDBOOK_SECRET_FILE");
  if (!secret) return fail("missing --secret FILE (or FIELDBOOK_SECRET_FILE)");
  o.secret_file = *secret;
  o.tls_cert = Lookup(flags, "tls-cert", "FIELDBOOK_TLS_CERT").value_or("");
  o.tls_key = Lookup(flags, "tls-key", "FIELDBOOK_TLS_KEY").value_or("");
  if (o.tls_cert.empty() != o.tls_key.empty()) return fail("--tls-cert and --tls-key go together");
  struct Number {
    const char* flag;
    const char* env;
    int64_t min, max;
    std::function<void(int64_t)> set;
  };
  const Number numbers[] = {
      {"threads", "FIELDBOOK_THREADS", 1, 256, [&](int64_t v) { o.threads = static_cast<int>(v); }},
      {"max-skew-ms", "FIELDBOOK_MAX_SKEW_MS", 0, int64_t{1} << 40, [&](int64_t v) { o.max_skew_ms = v; }},
      {"max-body-bytes", "FIELDBOOK_MAX_BODY_BYTES", 1024, int64_t{1} << 34, [&](int64_t v) { o.max_body_bytes = v; }},
      {"page-size", "FIELDBOOK_PAGE_SIZE", 1, 100000, [&](int64_t v) { o.page_size = static_cast<int>(v); }},
      {"max-blob-bytes", "FIELDBOOK_MAX_BLOB_BYTES", 1, int64_t{1} << 34, [&](int64_t v) { o.max_blob_bytes = v; }},
      {"blob-grace-seconds", "FIELDBOOK_BLOB_GRACE_SECONDS", 0, int64_t{10} * 365 * 24 * 3600,
       [&](int64_t v) { o.blob_grace_seconds = v; }},
  };
  for (const Number& n : numbers) {
    auto text = Lookup(flags, n.flag, n.env);
    if (!text) continue;
    auto v = ParseInt(*text, n.min, n.max);
    if (!v) {
      return fail(std::string("--") + n.flag + " wants a whole number from " + std::to_string(n.min) + " to " +
                  std::to_string(n.max) + ", got " + *text);
    }
    n.set(*v);
  }
  parsed.options = std::move(o);
  return parsed;
}

Parsed<TokenOptions> ParseTokenOptions(const std::vector<std::string>& args) {
  Parsed<TokenOptions> parsed;
  Flags flags;
  if (!CollectFlags(args, {"secret", "tenant", "agent", "team", "role", "ttl"}, flags, parsed.error)) return parsed;
  for (const char* required : {"secret", "tenant", "agent", "role", "ttl"}) {
    if (flags.count(required) == 0) {
      parsed.error = std::string("token: missing --") + required;
      return parsed;
    }
  }
  TokenOptions o;
  o.secret_file = flags["secret"];
  o.tenant = flags["tenant"];
  o.agent = flags["agent"];
  o.team = flags.count("team") ? flags["team"] : "";
  o.role = flags["role"];
  if (o.tenant.empty() || o.agent.empty()) {
    parsed.error = "token: --tenant and --agent must not be empty";
    return parsed;
  }
  if (o.role != "agent" && o.role != "lead" && o.role != "admin") {
    parsed.error = "token: --role is agent, lead or admin, got " + o.role;
    return parsed;
  }
  auto ttl = ParseInt(flags["ttl"], 1, int64_t{10} * 365 * 24 * 3600);
  if (!ttl) {
    parsed.error = "token: --ttl wants a number of seconds from 1 to ten years, got " + flags["ttl"];
    return parsed;
  }
  o.ttl_seconds = *ttl;
  parsed.options = std::move(o);
  return parsed;
}

}  // namespace fieldbook::server_cli
