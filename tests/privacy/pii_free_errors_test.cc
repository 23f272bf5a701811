// Personal data never appears in errors or logs: the fieldbook command line and a real
// fieldbook-server are driven with known names, phone and ID numbers through failing
// commands and requests, and every stdout/stderr error text and server log line is
// searched for them. Erasure is checked end to end through the same processes.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <iterator>

#include "fieldbook/core/json.h"
#include "fieldbook/core/redaction.h"
#include "support/server_process.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

constexpr const char* kName = "欧阳娜娜";
constexpr const char* kPhone = "13912345678";
constexpr const char* kBadPhone = "1391234567";
constexpr const char* kIdNumber = "11010519491231002X";
constexpr const char* kBadIdNumber = "110105194912310021";
constexpr const char* kStreet = "幸福路88号";
constexpr const char* kEmail = "ouyang@@example";

// Everything that would identify the customer, and what was derived from it.
const std::vector<std::string>& Secrets() {
  static const std::vector<std::string> s = {kName,    kPhone, kBadPhone, kIdNumber, kBadIdNumber,
                                             "19491231", "1949-12-31", kStreet, kEmail, "欧阳"};
  return s;
}

std::string Binary() { return BinaryDir() + "/fieldbook"; }

struct Cli {
  explicit Cli(std::string db) : db(std::move(db)) {}
  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {Binary(), "--db", db});
    ProcessResult r = RunProcess(args);
    transcript += r.out + r.err;
    return r;
  }
  ProcessResult Fail(std::vector<std::string> args, int code = 2) {
    ProcessResult r = Run(args);
    INFO("fieldbook " << args[0] << ": " << r.err);
    CHECK(r.exit_code == code);
    CHECK_FALSE(r.err.empty());
    errors += r.out + r.err;
    return r;
  }
  std::string db;
  std::string transcript;  // all output
  std::string errors;      // output of failing commands
};

void ExpectClean(const std::string& text, const std::string& what) {
  for (const auto& secret : Secrets()) {
    INFO(what << " holds personal data \"" << secret << "\":\n" << text);
    CHECK(text.find(secret) == std::string::npos);
  }
}

std::string FileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Customer(const std::string& extra) {
  return std::string(R"({"name":")") + kName + R"(","phones":[")" + kPhone + R"("],"id_type":"resident_id",)" +
         R"("id_number":")" + kIdNumber + R"(","street":")" + kStreet + "\"" + extra + "}";
}

}  // namespace

TEST_CASE("privacy: redaction masks phone and identity numbers standing alone", "[privacy]") {
  CHECK(RedactPersonalData("no customers row with id 13912345678") == "no customers row with id [redacted]");
  CHECK(RedactPersonalData("id 11010519491231002X, +8613912345678.") == "id [redacted], +[redacted].");
  CHECK(RedactPersonalData("110105491231002 and 008613912345678") == "[redacted] and [redacted]");
  // Ordinary numbers, ids and limits stay readable.
  const std::string plain = "at most 50000 changes, 1048576 bytes, row 0190f2c1-7a3b-7c00-8000-13912345678a, 1767225600000 ms";
  CHECK(RedactPersonalData(plain) == plain);
  CHECK(RedactPersonalData("12345678901") == "12345678901");
}

TEST_CASE("privacy: failing CLI commands and server requests never echo personal data", "[privacy]") {
  TempDir dir;
  Cli cli(dir.File("agent.db"));
  REQUIRE(cli.Run({"init", "--agent", "agent-1", "--team", "team-1"}).exit_code == 0);

  // Invalid values, each in a row that also carries the name.
  cli.Fail({"customer", "add", "--json", std::string(R"({"name":")") + kName + R"(","phones":[")" + kBadPhone + "\"]}"});
  cli.Fail({"customer", "add", "--json",
            std::string(R"({"name":")") + kName + R"(","id_type":"resident_id","id_number":")" + kBadIdNumber + "\"}"});
  cli.Fail({"customer", "add", "--json", std::string(R"({"name":")") + kName + R"(","email":")" + kEmail + "\"}"});
  cli.Fail({"customer", "add", "--json", std::string(R"({"name":")") + kName + R"(","gender":")" + kName + "\"}"});
  cli.Fail({"customer", "add", "--json", std::string(R"({"name":")") + kName + R"(","birth_date":"1949-12-31x"})"});
  cli.Fail({"customer", "add", "--json", Customer(R"(,"birth_date":"1950-01-01")")});
  // Bad JSON around personal data.
  cli.Fail({"customer", "add", "--json", std::string(R"({"name":")") + kName + R"(","phones":[")" + kPhone + "\""});
  cli.Fail({"customer", "add", "--json", std::string(R"({"name":")") + kName + R"(","nickname":")" + kPhone + "\"}"});

  auto added = cli.Run({"customer", "add", "--json", Customer("")});
  INFO(added.err);
  REQUIRE(added.exit_code == 0);
  std::string id = added.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();

  // Duplicates, unknown ids that are really personal numbers, invalid edits.
  cli.Fail({"customer", "add", "--json", Customer(R"(,"id":")" + id + "\"")}, 1);
  cli.Fail({"customer", "show", kPhone}, 3);
  cli.Fail({"customer", "set", kIdNumber, "--json", "{}"}, 3);
  cli.Fail({"customer", "set", id, "--json", std::string(R"({"phones":[")") + kBadPhone + "\"]}"});
  cli.Fail({"customer", "set", id, "--json", std::string(R"({"id_number":")") + kBadIdNumber + "\"}"});
  cli.Fail({"customer", "erase", kPhone}, 2);
  const std::string jsonl = dir.File("import.jsonl");
  {
    std::ofstream f(jsonl);
    f << Customer(R"(,"external_ref":")" + std::string(kPhone) + "\"") << "\n"
      << Customer(R"(,"external_ref":")" + std::string(kPhone) + "\"") << "\n";
  }
  cli.Fail({"import", "--jsonl", jsonl});
  {
    std::ofstream f(jsonl);
    f << std::string(R"({"name":")") + kName + R"(","phones":[")" + kBadPhone + "\"]}\n";
  }
  cli.Fail({"import", "--jsonl", jsonl});

  // The server: refused requests carrying personal data, and the access log.
  ServerProcess server;
  REQUIRE(server.ok());
  const std::string token = server.Token("agent-1", "team-1");
  auto synced = cli.Run({"sync", "--server", server.base_url(), "--token", token, "--json"});
  INFO(synced.err);
  REQUIRE(synced.exit_code == 0);
  // Out of scope: another agent's token may not write this agent's customer.
  REQUIRE(cli.Run({"customer", "set", id, "--json", R"({"notes":"x"})"}).exit_code == 0);
  cli.Fail({"sync", "--server", server.base_url(), "--token", server.Token("agent-2", "team-2")}, 5);
  std::string replies;
  const std::vector<std::string> bodies = {
      // an enum value that is really a name
      std::string(R"({"protocol":1,"site":"00000000000000aa","batch":"b1","cursor":0,"changes":[)") +
          R"({"t":"customers","r":"0190f2c1-7a3b-7c00-8000-000000000001","op":"create","h":1,"n":0,)" +
          R"("c":{"kind":"person","name":")" + kName + R"(","owner_agent":"agent-1","gender":")" + kName + "\"}}]}",
      // a phone where a number belongs, and an unknown column named by a phone
      std::string(R"({"protocol":1,"site":"00000000000000aa","batch":"b2","cursor":0,"changes":[)") +
          R"({"t":"customers","r":"0190f2c1-7a3b-7c00-8000-000000000002","op":"create","h":1,"n":0,)" +
          R"("c":{"kind":"person","name":")" + kName + R"(","owner_agent":"agent-1","staff_count":")" + kPhone +
          "\"}}]}",
      std::string(R"({"protocol":1,"site":"00000000000000aa","batch":"b3","cursor":0,"changes":[)") +
          R"({"t":"customers","r":"0190f2c1-7a3b-7c00-8000-000000000003","op":"create","h":1,"n":0,)" +
          R"("c":{")" + kPhone + R"(":")" + kName + "\"}}]}",
      // not JSON at all
      std::string(R"({"protocol":1,"changes":[{"c":{"name":")") + kName + R"(","phones":")" + kPhone,
  };
  for (const auto& body : bodies) {
    RawHttpConnection http(server.port());
    REQUIRE(http.connected());
    REQUIRE(http.Send(HttpRequestText("POST", "/v1/sync", body,
                                      {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}})));
    auto reply = http.Read();
    REQUIRE(reply);
    INFO(reply->body);
    CHECK(reply->status >= 400);
    replies += reply->body + "\n";
  }
  ExpectClean(cli.errors, "CLI error output");
  ExpectClean(replies, "server error replies");
  ExpectClean(server.Log(), "server log");
  CHECK(cli.errors.find("phones[0]") != std::string::npos);  // errors still name the field
  CHECK(cli.errors.find("id_number") != std::string::npos);
}

TEST_CASE("privacy: an erased customer leaves no value on either device or the server", "[privacy][erasure]") {
  TempDir dir;
  ServerProcess server;
  REQUIRE(server.ok());
  const std::string token = server.Token("agent-1", "team-1");
  Cli a(dir.File("a.db")), b(dir.File("b.db"));
  REQUIRE(a.Run({"init", "--agent", "agent-1", "--team", "team-1"}).exit_code == 0);
  REQUIRE(b.Run({"init", "--agent", "agent-1", "--team", "team-1"}).exit_code == 0);
  auto added = a.Run({"customer", "add", "--json", Customer("")});
  REQUIRE(added.exit_code == 0);
  std::string id = added.out.substr(0, added.out.find('\n'));
  REQUIRE(a.Run({"visit", "log", id, "--json", R"({"channel":"visit","outcome":"谈了保障"})"}).exit_code == 0);
  REQUIRE(a.Run({"sync", "--server", server.base_url(), "--token", token}).exit_code == 0);
  REQUIRE(b.Run({"sync", "--server", server.base_url(), "--token", token}).exit_code == 0);
  // B edits offline while A erases.
  REQUIRE(b.Run({"customer", "set", id, "--json", R"({"occupation":"工程师","notes":"住幸福路88号"})"}).exit_code == 0);
  auto erased = a.Run({"customer", "erase", id, "--json"});
  INFO(erased.err);
  REQUIRE(erased.exit_code == 0);
  CHECK(erased.out.find(id) != std::string::npos);
  REQUIRE(a.Run({"sync", "--server", server.base_url(), "--token", token}).exit_code == 0);
  auto rb = b.Run({"sync", "--server", server.base_url(), "--token", token, "--json"});
  INFO(rb.err);
  REQUIRE(rb.exit_code == 0);
  CHECK(b.Run({"customer", "show", id}).exit_code == 3);
  CHECK(a.Run({"customer", "show", id}).exit_code == 3);
  auto conflicts = b.Run({"conflicts", "--json"});
  CHECK(conflicts.out.find("工程师") == std::string::npos);
  CHECK(a.Run({"export", "--json"}).out == b.Run({"export", "--json"}).out);
  server.Signal(SIGTERM);
  REQUIRE(server.WaitExit(std::chrono::seconds(20)));
  for (const std::string& file : {a.db, b.db, server.db_file()}) {
    const std::string bytes = FileText(file) + FileText(file + "-wal");
    INFO(file);
    CHECK(bytes.find(kPhone) == std::string::npos);
    CHECK(bytes.find(kIdNumber) == std::string::npos);
    CHECK(bytes.find(kName) == std::string::npos);
    CHECK(bytes.find("工程师") == std::string::npos);
  }
}
