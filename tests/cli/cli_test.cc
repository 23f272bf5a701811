// The fieldbook command line as scripts use it: the real binary in a child process, its
// stdout, stderr and exit code. Exit codes are a contract: 0 ok, 2 bad input or usage
// (stderr names the field), 3 not found, 1 anything else.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fieldbook/core/json.h"
#include "cli_runner.h"
#include "support/test_support.h"

using namespace fieldbook;
using fieldbook::testing::Fieldbook;
using fieldbook::testing::Outcome;
using fieldbook::testing::TempDir;

namespace {

// Runs `fieldbook ARGS...` with stdout and stderr on a terminal; returns what it drew.
Outcome FieldbookOnTty(const std::vector<std::string>& args) {
  std::string binary;
  std::vector<char*> argv = testing::FieldbookArgv(args, binary);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  Outcome o;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
      o.out.append(buf, static_cast<size_t>(n));
    } else if (!(n < 0 && errno == EINTR)) {
      break;  // EIO once the child has exited and closed the terminal
    }
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  o.code = testing::ExitCodeOf(status);
  return o;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A fresh, initialised profile and shorthand for running commands on it.
struct Cli {
  TempDir dir;
  std::string db = dir.File("agent.db");

  Cli() {
    auto init = Fieldbook({"--db", db, "init", "--agent", "agent-7", "--team", "team-3"});
    INFO(init.err);
    REQUIRE(init.code == 0);
  }
  Outcome Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--db", db});
    return Fieldbook(args);
  }
  // Runs a command that must succeed and returns its stdout without the final newline.
  std::string Ok(const std::vector<std::string>& args) const {
    Outcome o = Run(args);
    INFO("fieldbook " << args[0] << (args.size() > 1 ? " " + args[1] : "") << "\nstderr: " << o.err);
    REQUIRE(o.code == 0);
    return Trimmed(o.out);
  }
  rapidjson::Document Json(const std::vector<std::string>& args) const {
    const std::string out = Ok(args);
    auto doc = ParseJson(out, "stdout");
    INFO(out);
    REQUIRE(doc.ok());
    return std::move(doc).value();
  }
};

std::string Str(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

bool IsId(const std::string& s) { return s.size() == 36 && s[8] == '-' && s[14] == '7'; }

}  // namespace

TEST_CASE("init records the agent and refuses another one", "[cli]") {
  TempDir dir;
  const std::string db = dir.File("p.db");
  auto init = Fieldbook({"--db", db, "init", "--agent", "agent-1", "--team", "north"});
  CHECK(init.code == 0);
  CHECK(init.out == "initialised " + db + " for agent agent-1 of team north\n");
  CHECK(Fieldbook({"--db", db, "init", "--agent", "agent-1"}).code == 0);
  auto other = Fieldbook({"--db", db, "init", "--agent", "agent-2"});
  CHECK(other.code == 2);
  CHECK(Has(other.err, "already_initialized"));
  CHECK(Has(other.err, "agent-1"));
  auto no_agent = Fieldbook({"--db", dir.File("q.db"), "init"});
  CHECK(no_agent.code == 2);
  CHECK(Has(no_agent.err, "--agent"));
}

TEST_CASE("customer add, show, set, list and delete", "[cli]") {
  Cli cli;
  const std::string id = cli.Ok({"customer", "add", "--json", R"({"name":"张三","phones":["+86 138-0013-8000"]})"});
  CHECK(IsId(id));
  auto shown = cli.Json({"customer", "show", id, "--json"});
  CHECK(Str(shown, "id") == id);
  CHECK(Str(shown, "name") == "张三");
  CHECK(Str(shown, "owner_agent") == "agent-7");
  CHECK(Str(shown, "team") == "team-3");
  CHECK(ToJson(shown["phones"]) == R"(["13800138000"])");
  CHECK(Has(cli.Ok({"customer", "show", id}), "name: 张三\n"));

  CHECK(cli.Ok({"customer", "set", id, "--json", R"({"value_tier":"high","notes":"喜欢钓鱼"})"}).empty());
  CHECK(Str(cli.Json({"customer", "show", id, "--json"}), "value_tier") == "high");

  const std::string other = cli.Ok({"customer", "add", "--json", R"({"name":"Anna Weber","notes":"golf"})"});
  auto all = cli.Json({"customer", "list", "--json"});
  REQUIRE(all.Size() == 2);
  CHECK(Str(all[0], "name") == "Anna Weber");  // ordered by name
  const std::string plain = cli.Ok({"customer", "list"});
  CHECK(Has(plain, id + "  张三  person  high  [\"13800138000\"]"));
  CHECK(Has(plain, other + "  Anna Weber  person  -  -"));
  auto found = cli.Json({"customer", "list", "--json", "--search", "钓鱼"});
  REQUIRE(found.Size() == 1);
  CHECK(Str(found[0], "id") == id);
  CHECK(cli.Json({"customer", "list", "--json", "--search", "0013800"}).Size() == 1);
  CHECK(cli.Json({"customer", "list", "--json", "--search", "%"}).Size() == 0);
  CHECK(cli.Json({"customer", "list", "--json", "--value_tier", "high"}).Size() == 1);

  CHECK(cli.Ok({"customer", "delete", id}).empty());
  auto gone = cli.Run({"customer", "show", id});
  CHECK(gone.code == 3);
  CHECK(Has(gone.err, "not_found"));
  CHECK(cli.Run({"customer", "delete", id}).code == 3);
  CHECK(cli.Json({"customer", "list", "--json"}).Size() == 1);
}

TEST_CASE("family, policy and visit commands work under a customer", "[cli]") {
  Cli cli;
  const std::string c = cli.Ok({"customer", "add", "--json", R"({"name":"李四"})"});
  const std::string f = cli.Ok({"family", "add", c, "--json", R"({"relation":"spouse","name":"王五"})"});
  CHECK(IsId(f));
  auto family = cli.Json({"family", "list", c, "--json"});
  REQUIRE(family.Size() == 1);
  CHECK(Str(family[0], "name") == "王五");
  CHECK(Str(family[0], "customer_id") == c);
  CHECK(Has(cli.Ok({"family", "list", c}), f + "  spouse  王五  -"));

  const std::string p = cli.Ok({"policy", "add", c, "--json",
                                R"({"policy_number":"P-001","product":"安康重疾","effective_date":"2025-01-01",
                                    "premium":360000,"payment_frequency":"annual","payment_due_date":"2026-01-01"})"});
  auto policies = cli.Json({"policy", "list", c, "--json"});
  REQUIRE(policies.Size() == 1);
  CHECK(Str(policies[0], "id") == p);
  CHECK(policies[0]["premium"].GetInt64() == 360000);
  CHECK(Has(cli.Ok({"policy", "list", c}), p + "  P-001  安康重疾  360000  in_force  2026-01-01"));
  CHECK(cli.Json({"role", "list", c, "--json"}).Size() == 1);  // the policyholder

  const std::string v =
      cli.Ok({"visit", "log", c, "--json", R"({"channel":"phone","purpose":"greeting","outcome":"生日祝福"})"});
  auto visits = cli.Json({"visit", "list", c, "--json"});
  REQUIRE(visits.Size() == 1);
  CHECK(Str(visits[0], "id") == v);
  CHECK(Str(visits[0], "agent") == "agent-7");
  CHECK(Has(cli.Ok({"visit", "list", c}), "phone  greeting  生日祝福"));

  auto archive = cli.Json({"customer", "archive", c, "--json"});
  CHECK(archive["family_members"].Size() == 1);
  CHECK(archive["policies"].Size() == 1);
  CHECK(archive["visits"].Size() == 1);

  auto missing_parent = cli.Run({"family", "add", "--json", R"({"relation":"child","name":"x"})"});
  CHECK(missing_parent.code == 2);
  CHECK(Has(missing_parent.err, "missing customer id"));
  auto unknown_parent =
      cli.Run({"family", "add", "0190a5c4-1111-7222-8333-444455556666", "--json", R"({"relation":"child","name":"x"})"});
  CHECK(unknown_parent.code == 3);
  CHECK(Has(unknown_parent.err, "customer_id"));
}

TEST_CASE("task add, list and done", "[cli]") {
  Cli cli;
  const std::string late = cli.Ok({"task", "add", "--json", R"({"title":"续期提醒","due_date":"2025-06-02"})"});
  const std::string early = cli.Ok({"task", "add", "--json", R"({"title":"回访","due_date":"2025-06-01"})"});
  auto tasks = cli.Json({"task", "list", "--json"});
  REQUIRE(tasks.Size() == 2);
  CHECK(Str(tasks[0], "id") == early);
  CHECK(Has(cli.Ok({"task", "list"}), early + "  2025-06-01  no  回访"));
  CHECK(cli.Ok({"task", "done", early}).empty());
  auto open = cli.Json({"task", "list", "--open", "--json"});
  REQUIRE(open.Size() == 1);
  CHECK(Str(open[0], "id") == late);
  auto done = cli.Json({"task", "list", "--done", "--json"});
  REQUIRE(done.Size() == 1);
  CHECK(done[0]["done_at"].IsInt64());
  CHECK(cli.Json({"task", "list", "--due", "2025-06-01", "--json"}).Size() == 1);
  auto bad_due = cli.Run({"task", "list", "--due", "June"});
  CHECK(bad_due.code == 2);
  CHECK(Has(bad_due.err, "due"));
  CHECK(cli.Run({"task", "done", "0190a5c4-1111-7222-8333-444455556666"}).code == 3);
}

TEST_CASE("validation errors exit 2 and name the field on stderr", "[cli]") {
  Cli cli;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"name":"a","phones":["1380013800"]})", "invalid_field: phones[0]: "},
      {R"({"name":"a","id_number":"110101199003074478"})", "invalid_field: id_number: "},
      {R"({"name":"a","id_number":"110101199003074477","birth_date":"1990-03-08"})", "invalid_field: birth_date: "},
      {R"({"name":"a","birth_date":"1990-02-30"})", "invalid_field: birth_date: "},
      {R"({"name":"a","value_tier":"vip"})", "invalid_field: value_tier: "},
      {R"({"name":"a","annual_income":12.5})", "invalid_field: annual_income: "},
      {R"({"name":"a","credit_code":"91350100M000100Y43"})", "invalid_field: credit_code: "},
      {R"({"name":"a","source":"list"})", "missing_field: source_legal_basis: "},
      {R"({"name":"a","nickname":"b"})", "unknown_field: nickname: "},
      {R"({"notes":"x"})", "missing_field: name: "},
      {R"({"name":"a",)", "invalid_json: "},
  };
  for (const auto& [json, expect] : cases) {
    auto o = cli.Run({"customer", "add", "--json", json});
    INFO(json << " -> " << o.err);
    CHECK(o.code == 2);
    CHECK(o.out.empty());
    CHECK(o.err.rfind("fieldbook: " + expect, 0) == 0);
  }
  const std::string id = cli.Ok({"customer", "add", "--json", R"({"name":"a"})"});
  auto kind = cli.Run({"customer", "set", id, "--json", R"({"kind":"company"})"});
  CHECK(kind.code == 2);
  CHECK(Has(kind.err, "read_only_field: kind: "));
  CHECK(cli.Json({"customer", "list", "--json"}).Size() == 1);
}

TEST_CASE("usage errors exit 2 and say what is wrong", "[cli]") {
  Cli cli;
  auto none = Fieldbook({});
  CHECK(none.code == 2);
  CHECK(Has(none.err, "usage: fieldbook --db FILE COMMAND"));
  auto help = Fieldbook({"help"});
  CHECK(help.code == 0);
  CHECK(Has(help.out, "customer add"));
  CHECK(Has(help.out, "exit codes"));
  auto unknown = cli.Run({"frobnicate"});
  CHECK(unknown.code == 2);
  CHECK(Has(unknown.err, "unknown command \"frobnicate\""));
  auto no_json = cli.Run({"customer", "add"});
  CHECK(no_json.code == 2);
  CHECK(Has(no_json.err, "missing --json"));
  auto bad_flag = cli.Run({"customer", "add", "--jsn", "{}"});
  CHECK(bad_flag.code == 2);
  CHECK(Has(bad_flag.err, "has no option --jsn"));
  auto no_value = cli.Run({"customer", "list", "--search"});
  CHECK(no_value.code == 2);
  CHECK(Has(no_value.err, "--search needs a value"));
  auto no_id = cli.Run({"customer", "show"});
  CHECK(no_id.code == 2);
  CHECK(Has(no_id.err, "missing ID"));
}

TEST_CASE("a command needs --db naming an existing, initialised profile", "[cli]") {
  TempDir dir;
  auto no_db = Fieldbook({"customer", "list"});
  CHECK(no_db.code == 2);
  CHECK(Has(no_db.err, "--db FILE is required"));
  auto dangling = Fieldbook({"customer", "list", "--db"});
  CHECK(dangling.code == 2);
  CHECK(Has(dangling.err, "--db needs a FILE"));

  const std::string missing = dir.File("missing.db");
  auto absent = Fieldbook({"--db", missing, "customer", "list"});
  CHECK(absent.code == 2);
  CHECK(Has(absent.err, "not_initialized"));
  CHECK_FALSE(std::filesystem::exists(missing));  // only init creates a profile

  // A database file that was never initialised for an agent.
  const std::string empty = dir.File("empty.db");
  testing::WriteFile(empty, "");
  auto uninitialised = Fieldbook({"--db", empty, "customer", "add", "--json", R"({"name":"a"})"});
  CHECK(uninitialised.code == 2);
  CHECK(Has(uninitialised.err, "not_initialized"));
  CHECK(Has(uninitialised.err, "init --agent"));

  const std::string garbage = dir.File("garbage.db");
  testing::WriteFile(garbage, std::string(8192, 'x'));
  auto not_db = Fieldbook({"--db", garbage, "customer", "list"});
  CHECK(not_db.code == 1);
  CHECK(Has(not_db.err, "not_a_database"));
}

TEST_CASE("import reports its counts, refuses a bad line by number and keeps nothing", "[cli][import]") {
  Cli cli;
  const std::string good = cli.dir.File("good.jsonl");
  std::string lines;
  for (int i = 0; i < 30; ++i) {
    lines += R"({"id":"crm-)" + std::to_string(i) + R"(","name":"客户)" + std::to_string(i) +
             R"(","phone":"1380013)" + std::to_string(8000 + i) + R"(","tier":"gold","income":1000})" + "\n";
  }
  testing::WriteFile(good, lines);
  CHECK(cli.Ok({"import", "--jsonl", good}) == "imported 30 new and 0 updated customers from 30 lines");
  CHECK(cli.Ok({"import", "--jsonl", good, "--json"}) == R"({"inserted":0,"updated":30,"lines":30})");
  auto c = cli.Json({"customer", "list", "--json", "--search", "13800138007"});
  REQUIRE(c.Size() == 1);
  CHECK(Str(c[0], "external_ref") == "crm-7");
  CHECK(Str(c[0], "value_tier") == "potential");
  CHECK(c[0]["annual_income"].GetInt64() == 100000);

  const std::string bad = cli.dir.File("bad.jsonl");
  testing::WriteFile(bad, R"({"id":"new-1","name":"新客户"})" "\n" R"({"id":"new-2","name":"x","birthday":"1990-13-01"})" "\n");
  auto refused = cli.Run({"import", "--jsonl", bad});
  CHECK(refused.code == 2);
  CHECK(Has(refused.err, "birth_date: line 2: "));
  CHECK(Has(refused.err, "nothing was imported"));
  CHECK(cli.Json({"customer", "list", "--json"}).Size() == 30);

  auto missing = cli.Run({"import", "--jsonl", cli.dir.File("nope.jsonl")});
  CHECK(missing.code == 2);
  CHECK(Has(missing.err, "jsonl"));
}

TEST_CASE("import draws a progress bar on a terminal only", "[cli][import]") {
  Cli cli;
  const std::string file = cli.dir.File("many.jsonl");
  std::string lines;
  for (int i = 0; i < 2500; ++i) lines += R"({"id":"p-)" + std::to_string(i) + R"(","name":"n"})" + "\n";
  testing::WriteFile(file, lines);
  auto piped = cli.Run({"import", "--jsonl", file});
  REQUIRE(piped.code == 0);
  CHECK(piped.err.empty());
  auto tty = FieldbookOnTty({"--db", cli.db, "import", "--jsonl", file});
  INFO(tty.out);
  CHECK(tty.code == 0);
  CHECK(Has(tty.out, "\rimport ["));
  CHECK(Has(tty.out, "] 100%"));
  CHECK(Has(tty.out, "imported 0 new and 2500 updated customers"));
}

TEST_CASE("export is canonical JSON of every synced table", "[cli]") {
  Cli cli;
  cli.Ok({"customer", "add", "--json", R"({"name":"乙","interests":["b","a"]})"});
  cli.Ok({"customer", "add", "--json", R"({"name":"甲😀"})"});
  const std::string out = cli.Ok({"export", "--json"});
  auto doc = ParseJsonObject(out, "export");
  REQUIRE(doc.ok());
  CHECK(out == ToCanonicalJson(*doc));
  for (const char* table : {"customers", "family_members", "policies", "policy_roles", "group_members", "claims",
                            "consents", "visits", "tasks"}) {
    CHECK(doc->HasMember(table));
  }
  REQUIRE((*doc)["customers"].Size() == 2);
  CHECK(Str((*doc)["customers"][0], "id") < Str((*doc)["customers"][1], "id"));
  CHECK(Has(out, "甲😀"));
  CHECK(out == cli.Ok({"export", "--json"}));  // stable
}
