// Encryption at rest: sensitive values never reach the database file in plaintext, a
// wrong or missing key is refused clearly, rotation re-encrypts in one transaction, and
// search, export and sync keep working on plaintext.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/encryption.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/erasure.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

constexpr const char* kPhone = "13987654321";
constexpr const char* kIdNumber = "11010519491231002X";
constexpr const char* kStreet = "梧桐大道19号";
const std::string kKey = "0123456789abcdef0123456789abcdef";
const std::string kOtherKey = "fedcba9876543210fedcba9876543210";

std::string FileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Customer() {
  return std::string(R"({"name":"陈静","phones":[")") + kPhone + R"("],"id_type":"resident_id","id_number":")" +
         kIdNumber + R"(","street":")" + kStreet + R"("})";
}

struct Device {
  Device(const std::string& path, const std::optional<std::string>& key) {
    auto s = Store::Open(path);
    REQUIRE(s.ok());
    store = std::move(s).value();
    REQUIRE(sync::AttachSync(*store).ok());
    status = UnlockStore(*store, key, sync::SyncedTables(*store), sync::Uncaptured(*store));
    if (status.ok()) {
      REQUIRE(Archive::Init(*store, "agent-1", "team-1").ok());
      archive = std::make_unique<Archive>(*store);
    }
  }
  std::unique_ptr<Store> store;
  std::unique_ptr<Archive> archive;
  Status status;
};

void ExpectNoPlaintext(const std::string& path) {
  const std::string bytes = FileText(path) + FileText(path + "-wal");
  INFO(path);
  CHECK(bytes.find(kPhone) == std::string::npos);
  CHECK(bytes.find(kIdNumber) == std::string::npos);
  CHECK(bytes.find(kStreet) == std::string::npos);
  CHECK(bytes.find("陈静") != std::string::npos);  // names are not sensitive: the grep sees the file
}

}  // namespace

TEST_CASE("encryption: no plaintext on disk, wrong and missing keys refused, rotation", "[privacy][encryption]") {
  TempDir dir;
  const std::string path = dir.File("a.db");
  std::string id;
  {
    Device p(path, kKey);
    REQUIRE(p.status.ok());
    auto added = p.archive->Add("customers", Customer());
    INFO(added.status().ToString());
    REQUIRE(added.ok());
    id = *added;
    auto shown = p.archive->Show("customers", id);
    REQUIRE(shown.ok());
    CHECK(shown->find(kPhone) != std::string::npos);
    CHECK(shown->find(kIdNumber) != std::string::npos);
    // Search by phone still finds the customer.
    ListQuery q;
    q.search = "987654";
    auto found = p.archive->List(q);
    REQUIRE(found.ok());
    CHECK(found->find(id) != std::string::npos);
    q.search = "陈静";
    CHECK(p.archive->List(q)->find(id) != std::string::npos);
    // Stored as ciphertext.
    auto raw = p.store->Prepare("SELECT phones, id_number, street FROM customers");
    REQUIRE(*raw->Step());
    for (int c = 0; c < 3; ++c) CHECK(CellCipher::IsSealed(raw->Text(c)));
  }
  ExpectNoPlaintext(path);

  // Wrong key, missing key: refused, nothing read.
  CHECK(Device(path, kOtherKey).status.code() == ErrorCode::kWrongKey);
  CHECK(Device(path, std::nullopt).status.code() == ErrorCode::kWrongKey);
  CHECK(Device(path, std::string("short")).status.code() == ErrorCode::kInvalidArgument);

  // Rotation: the new key opens it, the old one no longer does; nothing to push.
  {
    Device p(path, kKey);
    REQUIRE(p.status.ok());
    auto pending = sync::PendingRowCount(*p.store);
    Status rotated = RotateKey(*p.store, kOtherKey, sync::SyncedTables(*p.store), sync::Uncaptured(*p.store));
    INFO(rotated.ToString());
    REQUIRE(rotated.ok());
    CHECK(*sync::PendingRowCount(*p.store) == *pending);
    CHECK(p.archive->Show("customers", id)->find(kPhone) != std::string::npos);
  }
  CHECK(Device(path, kKey).status.code() == ErrorCode::kWrongKey);
  {
    Device p(path, kOtherKey);
    REQUIRE(p.status.ok());
    CHECK(p.archive->Show("customers", id)->find(kIdNumber) != std::string::npos);
  }
  ExpectNoPlaintext(path);
}

TEST_CASE("encryption: a plain profile is encrypted in place when first given a key", "[privacy][encryption]") {
  TempDir dir;
  const std::string path = dir.File("a.db");
  std::string id;
  {
    Device p(path, std::nullopt);
    REQUIRE(p.status.ok());
    id = *p.archive->Add("customers", Customer());
  }
  CHECK(FileText(path).find(kPhone) != std::string::npos);
  {
    Device p(path, kKey);
    REQUIRE(p.status.ok());
    CHECK(p.archive->Show("customers", id)->find(kPhone) != std::string::npos);
  }
  ExpectNoPlaintext(path);
}

TEST_CASE("encryption: values travel in plaintext between an encrypted and a plain device", "[privacy][encryption]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  Device a(dir.File("a.db"), kKey);
  REQUIRE(a.status.ok());
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  auto id = a.archive->Add("customers", Customer());
  REQUIRE(id.ok());
  sync::SyncClient client_a(*a.store, *server.transport);
  sync::SyncOptions options;
  options.token = token;
  REQUIRE(client_a.Sync(options).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  CHECK(b.archive->Show("customers", *id)->find(kPhone) != std::string::npos);
  // B edits the phone; A receives it and stores it encrypted.
  REQUIRE(b.archive->Set("customers", *id, R"({"phones":["13600001111"],"street":"新街1号"})").ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  auto pulled = client_a.Sync(options);
  INFO(pulled.status().ToString());
  REQUIRE(pulled.ok());
  CHECK(a.archive->Show("customers", *id)->find("13600001111") != std::string::npos);
  auto raw = a.store->Prepare("SELECT phones, street FROM customers");
  REQUIRE(*raw->Step());
  CHECK(CellCipher::IsSealed(raw->Text(0)));
  CHECK(CellCipher::IsSealed(raw->Text(1)));
  // Same-field concurrent edits: the conflict record's values are encrypted too.
  REQUIRE(a.archive->Set("customers", *id, R"({"phones":["13700002222"]})").ok());
  REQUIRE(b.archive->Set("customers", *id, R"({"phones":["13800003333"]})").ok());
  REQUIRE(client_a.Sync(options).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  REQUIRE(client_a.Sync(options).ok());
  auto conflict = a.store->Prepare("SELECT winner_value, loser_value FROM conflicts");
  REQUIRE(*conflict->Step());
  CHECK(CellCipher::IsSealed(conflict->Text(0)));
  CHECK(CellCipher::IsSealed(conflict->Text(1)));
  // Exports are plaintext and converge byte for byte.
  auto ea = ExportJson(*a.store, sync::SyncedTables(*a.store));
  REQUIRE(ea.ok());
  CHECK(*ea == b.Export());
}

TEST_CASE("encryption: the CLI takes --key-file, refuses a wrong one and rotates", "[privacy][encryption]") {
  TempDir dir;
  const std::string db = dir.File("cli.db");
  const std::string key = dir.File("key"), other = dir.File("other");
  std::ofstream(key) << kKey << "\n";
  std::ofstream(other) << kOtherKey;
  const std::string bin = BinaryDir() + "/fieldbook";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), bin);
    return RunProcess(args);
  };
  REQUIRE(run({"--db", db, "--key-file", key, "init", "--agent", "agent-1"}).exit_code == 0);
  auto added = run({"--db", db, "--key-file", key, "customer", "add", "--json", Customer()});
  INFO(added.err);
  REQUIRE(added.exit_code == 0);
  const std::string id = added.out.substr(0, added.out.find('\n'));
  auto wrong = run({"--db", db, "--key-file", other, "customer", "show", id});
  CHECK(wrong.exit_code == 5);
  CHECK(wrong.err.find("wrong_key") != std::string::npos);
  auto missing = run({"--db", db, "customer", "show", id});
  CHECK(missing.exit_code == 5);
  CHECK(missing.err.find("encrypted") != std::string::npos);
  auto rotated = run({"--db", db, "--key-file", key, "key", "rotate", "--new-key-file", other, "--json"});
  INFO(rotated.err);
  REQUIRE(rotated.exit_code == 0);
  auto shown = run({"--db", db, "--key-file", other, "customer", "show", id, "--json"});
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find(kPhone) != std::string::npos);
  CHECK(run({"--db", db, "--key-file", key, "customer", "show", id}).exit_code == 5);
  auto status = run({"--db", db, "--key-file", other, "key", "status", "--json"});
  CHECK(status.out == "{\"encrypted\":true}\n");
  ExpectNoPlaintext(db);
}
