// fieldbook-server's command-line contract: flags, environment, exit codes, the token
// command, the access log and TLS.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "fieldbook/core/json.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/protocol.h"
#include "fieldbook/server/pg_backend.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;
using namespace std::chrono_literals;

namespace {

sync::HttpRequest Post(const std::string& body, const std::string& token) {
  sync::HttpRequest r;
  r.path = "/v1/sync";
  r.headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  r.body = body;
  return r;
}

std::string EmptySyncBody() {
  sync::SyncRequest q;
  q.site = "site-cli-test";
  return sync::EncodeRequest(q);
}

std::vector<std::string> ServerArgs(std::initializer_list<std::string> args) {
  std::vector<std::string> out = {ServerBinary()};
  out.insert(out.end(), args);
  return out;
}

}  // namespace

TEST_CASE("the token command prints a token the server accepts", "[server][cli]") {
  ServerProcess server;
  INFO(server.error());
  REQUIRE(server.ok());
  auto minted = RunProcess(ServerArgs({"token", "--secret", server.secret_file(), "--tenant", "t1", "--agent",
                                       "agent-1", "--team", "team-1", "--role", "lead", "--ttl", "600"}));
  INFO(minted.err);
  REQUIRE(minted.exit_code == 0);
  REQUIRE(!minted.out.empty());
  CHECK(minted.out.back() == '\n');
  const std::string token = minted.out.substr(0, minted.out.size() - 1);
  CHECK(token.find('\n') == std::string::npos);
  CHECK(token.rfind("fb1.", 0) == 0);

  sync::CpprestTransport transport(server.base_url());
  auto r = transport.Send(Post(EmptySyncBody(), token));
  REQUIRE(r.ok());
  CHECK(r->status == 200);

  auto bad_role = RunProcess(ServerArgs({"token", "--secret", server.secret_file(), "--tenant", "t1", "--agent", "a",
                                         "--team", "x", "--role", "boss", "--ttl", "600"}));
  CHECK(bad_role.exit_code == 2);
  CHECK(bad_role.out.empty());
  CHECK(bad_role.err.find("usage:") != std::string::npos);
  auto no_secret = RunProcess(ServerArgs({"token", "--secret", server.dir() + "/missing", "--tenant", "t1",
                                          "--agent", "a", "--team", "x", "--role", "agent", "--ttl", "600"}));
  CHECK(no_secret.exit_code == 1);
  CHECK(no_secret.err.find("missing") != std::string::npos);
}

TEST_CASE("bad command lines exit 2 with usage on stderr", "[server][cli]") {
  TempDir dir;
  const std::string secret = dir.File("secret");
  WriteFile(secret, "0123456789abcdef0123\n");
  const std::string db = dir.File("server.db");
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--db", db, "--secret", secret},                                   // no --listen
      {"--db", db, "--listen", "127.0.0.1", "--secret", secret},          // no port
      {"--db", db, "--listen", "127.0.0.1:70000", "--secret", secret},    // port out of range
      {"--db", db, "--listen", "127.0.0.1:0", "--secret", secret, "--threads", "0"},
      {"--db", db, "--listen", "127.0.0.1:0", "--secret", secret, "--max-body-bytes", "lots"},
      {"--db", db, "--listen", "127.0.0.1:0", "--secret", secret, "--page-size", "-5"},
      {"--db", db, "--listen", "127.0.0.1:0", "--secret", secret, "--bogus", "1"},
      {"--db", db, "--listen", "127.0.0.1:0", "--secret", secret, "--tls-cert", secret},  // no key
      {"--db", db, "--listen", "127.0.0.1:0", "--secret", secret, "stray"},
      {"--db", db, "--listen", "127.0.0.1:0", "--secret"},
      {"--db", db, "--db", db, "--listen", "127.0.0.1:0", "--secret", secret},
      {"--db", db, "--postgres", "dbname=x", "--listen", "127.0.0.1:0", "--secret", secret},  // two databases
      {"token", "--secret", secret, "--tenant", "t1", "--agent", "a", "--role", "agent"},  // no --ttl
      {"token", "--secret", secret, "--tenant", "t1", "--agent", "a", "--role", "agent", "--ttl", "0"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv = {ServerBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunProcess(argv);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    INFO("args: " << shown << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("usage:") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(db));
  auto help = RunProcess(ServerArgs({"--help"}));
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("fieldbook-server token") != std::string::npos);
}

TEST_CASE("an unusable secret, database or address exits 1 with a clear message", "[server][cli]") {
  TempDir dir;
  const std::string secret = dir.File("secret");
  WriteFile(secret, "0123456789abcdef0123\n");
  auto run = [&](std::initializer_list<std::string> args) {
    auto r = RunProcess(ServerArgs(args));
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    return r.err;
  };
  CHECK(run({"--db", dir.File("a.db"), "--listen", "127.0.0.1:0", "--secret", dir.File("nope")})
            .find("cannot read secret file") != std::string::npos);
  WriteFile(dir.File("short"), "tiny\n");
  CHECK(run({"--db", dir.File("a.db"), "--listen", "127.0.0.1:0", "--secret", dir.File("short")})
            .find("at least 16 bytes") != std::string::npos);
  CHECK(run({"--db", dir.File("no/such/dir/a.db"), "--listen", "127.0.0.1:0", "--secret", secret})
            .find("cannot open database") != std::string::npos);
  WriteFile(dir.File("junk.db"), std::string(4096, 'j'));
  CHECK(run({"--db", dir.File("junk.db"), "--listen", "127.0.0.1:0", "--secret", secret})
            .find("cannot open database") != std::string::npos);
  CHECK(run({"--db", dir.File("a.db"), "--listen", "192.0.2.1:0", "--secret", secret}).find("192.0.2.1") !=
        std::string::npos);

  ServerProcess taken;
  INFO(taken.error());
  REQUIRE(taken.ok());
  CHECK(run({"--db", dir.File("b.db"), "--listen", "127.0.0.1:" + std::to_string(taken.port()), "--secret", secret})
            .find("bind") != std::string::npos);
}

TEST_CASE("run flags can come from the environment, and flags win", "[server][cli]") {
  TempDir dir;
  ServerProcessOptions options;
  options.dir = dir.path().string();
  options.default_flags = false;
  options.env = {{"FIELDBOOK_DB", dir.File("env.db")},
                 {"FIELDBOOK_LISTEN", "127.0.0.1:0"},
                 {"FIELDBOOK_SECRET_FILE", dir.File("secret")},
                 {"FIELDBOOK_THREADS", "3"},
                 {"FIELDBOOK_MAX_SKEW_MS", "60000"},
                 {"FIELDBOOK_MAX_BODY_BYTES", "2048"}};
  const std::string big = std::string(3000, ' ') + EmptySyncBody();
  {
    ServerProcess server(options);
    INFO(server.error());
    REQUIRE(server.ok());
    CHECK(std::filesystem::exists(dir.File("env.db")));
    CHECK(server.Log().find("\"threads\":\"3\"") != std::string::npos);
    sync::CpprestTransport transport(server.base_url());
    auto r = transport.Send(Post(big, ""));
    REQUIRE(r.ok());
    CHECK(r->status == 413);
    auto ok = transport.Send(Post(EmptySyncBody(), server.Token("agent-1", "")));
    REQUIRE(ok.ok());
    CHECK(ok->status == 200);
  }
  options.args = {"--max-body-bytes", "100000"};
  ServerProcess server(options);
  INFO(server.error());
  REQUIRE(server.ok());
  sync::CpprestTransport transport(server.base_url());
  auto r = transport.Send(Post(big, ""));
  REQUIRE(r.ok());
  CHECK(r->status == 401);  // within the limit now; refused for the missing token instead
}

TEST_CASE("the access log is one JSON object per request, without personal data", "[server][cli]") {
  ServerProcess server;
  INFO(server.error());
  REQUIRE(server.ok());
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1", server::Role::kAgent, "tenant-log");
  sync::HttpRequest health;
  health.method = "GET";
  health.path = "/healthz?probe=1";
  REQUIRE(transport.Send(health).ok());
  REQUIRE(transport.Send(Post(EmptySyncBody(), token)).ok());
  // Personal data in a malformed body and in a rejected change.
  REQUIRE(transport.Send(Post(R"({"name":"张三","phone":"13800138000")", token)).ok());
  sync::SyncRequest bad;
  bad.site = "site-cli-test";
  bad.batch_id = "batch-1";
  sync::PushChange change;
  change.table = "customers";
  change.id = "0190a000-0000-7000-8000-000000000001";
  change.op = sync::PushChange::Op::kCreate;
  change.hlc = sync::MakeHlc(SystemEnv().NowMs());
  change.cells.push_back(sync::PushCell{"no_such_column", Value(std::string("李四 13900139000")), change.hlc, 0, {}});
  bad.changes.push_back(change);
  auto rejected = transport.Send(Post(sync::EncodeRequest(bad), token));
  REQUIRE(rejected.ok());
  CHECK(rejected->status == 400);
  REQUIRE(transport.Send(Post(EmptySyncBody(), "fb1.forged.token")).ok());

  const std::string log = server.Log();
  INFO(log);
  for (const char* secret : {"张三", "13800138000", "李四", "13900139000", "fb1.", "message", "probe"}) {
    CHECK(log.find(secret) == std::string::npos);
  }
  CHECK(log.find(token.substr(4, 20)) == std::string::npos);
  std::vector<std::string> sync_lines;
  size_t start = 0;
  while (start < log.size()) {
    const size_t end = log.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line is complete
    const std::string line = log.substr(start, end - start);
    start = end + 1;
    auto doc = ParseJson(line, "log line");
    REQUIRE(doc.ok());
    REQUIRE(doc->IsObject());
    CHECK((*doc)["time"].IsInt64());
    if (doc->HasMember("route") && std::string((*doc)["route"].GetString()) == "/v1/sync") sync_lines.push_back(line);
    if (doc->HasMember("route") && std::string((*doc)["route"].GetString()) == "/healthz") {
      CHECK((*doc)["status"].GetInt() == 200);
      CHECK((*doc)["method"].GetString() == std::string("GET"));
    }
  }
  REQUIRE(sync_lines.size() == 4);
  CHECK(sync_lines[0].find(R"("status":200)") != std::string::npos);
  CHECK(sync_lines[0].find(R"("tenant":"tenant-log")") != std::string::npos);
  CHECK(sync_lines[0].find("duration_ms") != std::string::npos);
  CHECK(sync_lines[1].find(R"("error":"malformed_request")") != std::string::npos);
  CHECK(sync_lines[2].find(R"("status":400)") != std::string::npos);
  CHECK(sync_lines[2].find(R"("tenant":"tenant-log")") != std::string::npos);
  CHECK(sync_lines[2].find(R"("field":"changes[0].)") != std::string::npos);
  CHECK(sync_lines[3].find(R"("error":"unauthorized")") != std::string::npos);
  CHECK(sync_lines[3].find("tenant") == std::string::npos);
}

TEST_CASE("HTTPS with --tls-cert and --tls-key", "[server][tls]") {
  TempDir dir;
  const std::string cert = dir.File("cert.pem"), key = dir.File("key.pem");
  auto made = RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                          cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  if (made.exit_code != 0) {
    WARN("openssl could not make a test certificate, TLS not tested: " << made.err);
    return;
  }
  ServerProcess server(ServerProcessOptions::WithArgs({"--tls-cert", cert, "--tls-key", key}));
  INFO(server.error());
  REQUIRE(server.ok());
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port());
  sync::CpprestTransportOptions trusted;
  trusted.ca_file = cert;
  sync::CpprestTransport transport(url, trusted);
  sync::HttpRequest health;
  health.method = "GET";
  health.path = "/healthz";
  auto r = transport.Send(health);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->status == 200);

  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  REQUIRE(a.archive->Add("customers", R"({"name":"孙八"})").ok());
  REQUIRE(a.Sync(transport, token).ok());
  REQUIRE(b.Sync(transport, token).ok());
  CHECK(a.Export() == b.Export());

  // Not trusted by the system store; and plain HTTP gets no answer from a TLS port.
  sync::CpprestTransportOptions quick;
  quick.timeout = 5s;
  sync::CpprestTransport untrusted(url, quick);
  auto refused = untrusted.Send(health);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kUnreachable);
  sync::CpprestTransport plain("http://127.0.0.1:" + std::to_string(server.port()), quick);
  auto garbled = plain.Send(health);
  CHECK_FALSE(garbled.ok());
}

TEST_CASE("PostgreSQL is chosen by the --postgres flag or FIELDBOOK_POSTGRES, and --db wins over the variable", "[server][cli][postgres]") {
  if (!server::PostgresBackendBuilt()) {
    TempDir dir;
    WriteFile(dir.File("secret"), "0123456789abcdef0123\n");
    auto r = RunProcess(ServerArgs({"--postgres", "dbname=x", "--listen", "127.0.0.1:0", "--secret", dir.File("secret")}));
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("built without PostgreSQL") != std::string::npos);
    return;
  }
  const ServerProcessOptions pg = OptionsFor("postgres");
  TempDir dir;
  ServerProcessOptions options;
  options.dir = dir.path().string();
  options.default_flags = false;
  options.env = {{"FIELDBOOK_POSTGRES", pg.postgres},
                 {"FIELDBOOK_LISTEN", "127.0.0.1:0"},
                 {"FIELDBOOK_SECRET_FILE", dir.File("secret")}};
  {
    ServerProcess server(options);
    INFO(server.error());
    REQUIRE(server.ok());
    CHECK(server.Log().find(R"("backend":"postgres:127.0.0.1:)") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.File("server.db")));
  }
  options.args = {"--db", dir.File("flag.db")};
  {
    ServerProcess server(options);
    INFO(server.error());
    REQUIRE(server.ok());
    CHECK(server.Log().find(R"("backend":"sqlite:)") != std::string::npos);
    CHECK(std::filesystem::exists(dir.File("flag.db")));
  }
  // An unreachable database: exit 1, and the password in the URI is not repeated.
  WriteFile(dir.File("secret2"), "0123456789abcdef0123\n");
  auto r = RunProcess(ServerArgs({"--postgres", "postgresql://fb:hunter2secret@127.0.0.1:" + std::to_string(UnusedPort()) + "/fb",
                                  "--listen", "127.0.0.1:0", "--secret", dir.File("secret2")}));
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot open PostgreSQL database") != std::string::npos);
  CHECK(r.err.find("hunter2secret") == std::string::npos);
}
