// Attachments end to end through the fieldbook command line and a real fieldbook-server:
// `blob put` on one device, a visit naming it, sync; another device syncs and `blob get`
// fetches the bytes lazily, verified by hash; damaged and missing blobs fail clearly.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fieldbook/core/json.h"
#include "fieldbook/core/store.h"
#include "support/server_process.h"
#include "support/test_support.h"

using namespace fieldbook;
using namespace fieldbook::testing;
using namespace std::chrono_literals;

namespace {

struct Device {
  std::string db;

  ProcessResult Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {BinaryDir() + "/fieldbook", "--db", db});
    return RunProcess(args, {}, 120s);
  }
  std::string Ok(std::vector<std::string> args) const {
    auto r = Run(args);
    INFO("fieldbook " << args.front() << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
};

std::string Field(const std::string& json, const char* key) {
  auto doc = ParseJson(json, "output");
  INFO(json);
  REQUIRE(doc.ok());
  REQUIRE(doc->HasMember(key));
  const auto& v = (*doc)[key];
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : ToJson(v);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("cli: blob put, a visit naming it and sync, then another device fetches it lazily with identical bytes",
          "[integration][blobs]") {
  TempDir dir;
  ServerProcess server;
  INFO(server.error());
  REQUIRE(server.ok());
  const std::string token = server.Token("agent-1", "team-1");
  Device a{dir.File("a.db")}, b{dir.File("b.db")};
  a.Ok({"init", "--agent", "agent-1", "--team", "team-1"});
  b.Ok({"init", "--agent", "agent-1", "--team", "team-1"});

  std::string photo(2'500'000, '\0');  // several 1 MiB chunks
  std::mt19937 rng(42);
  for (auto& c : photo) c = static_cast<char>(rng());
  WriteFile(dir.File("photo.jpg"), photo);
  const std::string put = a.Ok({"blob", "put", dir.File("photo.jpg"), "--json"});
  const std::string sha = Field(put, "sha256");
  CHECK(sha.size() == 64);
  CHECK(Field(put, "size") == "2500000");
  CHECK(a.Ok({"blob", "put", dir.File("photo.jpg")}) == sha);  // plain output: the hash

  const std::string customer =
      a.Ok({"customer", "add", "--json", R"({"kind":"person","name":"陈九","value_tier":"general"})"});
  a.Ok({"visit", "log", customer, "--json",
        R"({"channel":"visit","visited_at":1767225600000,"photos":[{"sha256":")" + sha + R"(","caption":"保单"}]})"});
  auto bad = a.Run({"visit", "log", customer, "--json", R"({"channel":"visit","visited_at":1767225600000,"photos":["x"]})"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("photos[0]") != std::string::npos);

  const std::string synced = a.Ok({"sync", "--server", server.base_url(), "--token", token, "--json"});
  CHECK(Field(synced, "blobs_uploaded") == "1");
  b.Ok({"sync", "--server", server.base_url(), "--token", token, "--json"});

  // Not on device B until asked for; without the server it says how to get it.
  auto offline = b.Run({"blob", "get", sha, "--out", dir.File("b.jpg")});
  CHECK(offline.exit_code == 3);
  CHECK(offline.err.find("--server") != std::string::npos);
  const std::string got =
      b.Ok({"blob", "get", sha, "--out", dir.File("b.jpg"), "--server", server.base_url(), "--token", token, "--json"});
  CHECK(Field(got, "source") == "server");
  CHECK(FileBytes(dir.File("b.jpg")) == photo);
  const std::string again = b.Ok({"blob", "get", sha, "--out", dir.File("b2.jpg"), "--json"});
  CHECK(Field(again, "source") == "local");
  CHECK(FileBytes(dir.File("b2.jpg")) == photo);

  // A damaged local copy is reported (exit 1), and fetched again when the server is given.
  {
    auto store = Store::Open(b.db);
    REQUIRE(store.ok());
    REQUIRE((*store)->Exec("UPDATE fb_blobs SET data = x'00' || substr(data, 2)").ok());
  }
  auto damaged = b.Run({"blob", "get", sha, "--out", dir.File("b3.jpg")});
  CHECK(damaged.exit_code == 1);
  CHECK(damaged.err.find("hash_mismatch") != std::string::npos);
  b.Ok({"blob", "get", sha, "--out", dir.File("b3.jpg"), "--server", server.base_url(), "--token", token});
  CHECK(FileBytes(dir.File("b3.jpg")) == photo);

  // A blob the server does not have: not found, exit 3. A malformed hash: bad input, exit 2.
  const std::string missing(64, 'a');
  auto none = b.Run({"blob", "get", missing, "--out", dir.File("none"), "--server", server.base_url(), "--token", token});
  CHECK(none.exit_code == 3);
  CHECK(none.err.find("not_found") != std::string::npos);
  CHECK(b.Run({"blob", "get", "XYZ", "--out", dir.File("none")}).exit_code == 2);
  CHECK(a.Run({"blob", "put", dir.File("no-such-file")}).exit_code == 3);
}
