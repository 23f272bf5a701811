// Erasure (PIPL right to deletion) across devices and the server, in one process through
// the real protocol encoding and API.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "fieldbook/core/json.h"
#include "fieldbook/sync/erasure.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

constexpr const char* kPhone = "13712345678";
constexpr const char* kName = "赵六六";
constexpr const char* kNote = "住在梧桐路七号";

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every byte SQLite keeps for a database: the file and, if still there, its WAL.
std::string DatabaseBytes(const std::string& path) { return FileBytes(path) + FileBytes(path + "-wal"); }

int64_t Count(Store& store, const std::string& sql) {
  auto st = store.Prepare(sql);
  REQUIRE(st.ok());
  auto row = st->Step();
  REQUIRE(row.ok());
  return st->Int(0);
}

std::string ErasedCustomerJson() {
  return std::string(R"({"name":")") + kName + R"(","phones":[")" + kPhone + R"("],"notes":")" + kNote + "\"}";
}

}  // namespace

TEST_CASE("erasure: wins over offline edits, wipes conflicts, and leaves no bytes behind", "[sync][erasure]") {
  TempDir dir;
  auto server = std::make_unique<TestServer>(dir.File("server.db"));
  auto a = std::make_unique<TestDevice>(dir.File("a.db"), "agent-1", "team-1");
  auto b = std::make_unique<TestDevice>(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server->Token("agent-1", "team-1");

  auto id = a->archive->Add("customers", ErasedCustomerJson());
  REQUIRE(id.ok());
  auto kept = a->archive->Add("customers", R"({"name":"钱七","phones":["13800138000"]})");
  REQUIRE(kept.ok());
  REQUIRE(a->archive->Add("visits", R"({"channel":"visit","outcome":"见面"})", *id).ok());
  REQUIRE(a->Sync(*server->transport, token).ok());
  REQUIRE(b->Sync(*server->transport, token).ok());
  // A same-field conflict: its record holds both values.
  REQUIRE(a->archive->Set("customers", *id, R"({"occupation":"医生"})").ok());
  REQUIRE(b->archive->Set("customers", *id, R"({"occupation":"律师"})").ok());
  REQUIRE(a->Sync(*server->transport, token).ok());
  REQUIRE(b->Sync(*server->transport, token).ok());
  REQUIRE(a->Sync(*server->transport, token).ok());
  REQUIRE(Count(*a->store, "SELECT count(*) FROM conflicts WHERE root_id = '" + *id + "'") == 1);

  // B goes offline and keeps working on the customer; A erases it.
  REQUIRE(b->archive->Set("customers", *id, R"({"street":"梧桐路七号","notes":"新的备注"})").ok());
  REQUIRE(b->archive->Add("visits", R"({"channel":"phone","outcome":"电话"})", *id).ok());
  Status erased = sync::EraseRoot(*a->store, {"customers", *id, "agent-1", 1767225600000});
  INFO(erased.ToString());
  REQUIRE(erased.ok());
  CHECK_FALSE(a->archive->Show("customers", *id).ok());
  CHECK(Count(*a->store, "SELECT count(*) FROM conflicts WHERE root_id = '" + *id + "'") == 0);
  CHECK(Count(*a->store, "SELECT count(*) FROM visits") == 0);
  auto first = a->Sync(*server->transport, token);
  REQUIRE(first.ok());

  // B's offline edits are discarded, not resurrected, and its copy is wiped.
  auto rb = b->Sync(*server->transport, token);
  INFO(rb.status().ToString());
  REQUIRE(rb.ok());
  CHECK(rb->conflicts == 0);
  REQUIRE(a->Sync(*server->transport, token).ok());
  CHECK_FALSE(b->archive->Show("customers", *id).ok());
  CHECK(Count(*b->store, "SELECT count(*) FROM visits") == 0);
  CHECK(Count(*b->store, "SELECT count(*) FROM conflicts") == 0);
  CHECK(Count(*b->store, "SELECT count(*) FROM fb_cells WHERE pending = 1") == 0);
  CHECK(Count(*b->store, "SELECT count(*) FROM erasures WHERE id = '" + *id + "'") == 1);
  CHECK(a->Export() == b->Export());
  // Nothing else was lost.
  CHECK(b->archive->Show("customers", *kept).ok());

  // A fresh device receives no value of it.
  TestDevice c(dir.File("c.db"), "agent-1", "team-1");
  REQUIRE(c.Sync(*server->transport, token).ok());
  CHECK(c.Export() == a->Export());

  // The erased customer never comes back: its id cannot be used again.
  CHECK_FALSE(a->archive->Add("customers", std::string(R"({"id":")") + *id + R"(","name":"x"})").ok());
  CHECK_FALSE(a->store->Exec("DELETE FROM erasures").ok());
  CHECK(sync::EraseRoot(*a->store, {"customers", *id, "agent-1", 0}).code() == ErrorCode::kNotFound);

  // No byte of its values is left in any database file.
  a.reset();
  b.reset();
  server.reset();
  for (const char* file : {"a.db", "b.db", "c.db", "server.db"}) {
    const std::string bytes = DatabaseBytes(dir.File(file));
    INFO(file);
    CHECK(bytes.find(kPhone) == std::string::npos);
    CHECK(bytes.find(kName) == std::string::npos);
    CHECK(bytes.find(kNote) == std::string::npos);
    CHECK(bytes.find("梧桐路七号") == std::string::npos);
    CHECK(bytes.find("钱七") != std::string::npos);  // the bytes are readable: the check can fail
  }
}

TEST_CASE("erasure: a customer erased before it was ever synced, and erased twice", "[sync][erasure]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");

  auto offline = a.archive->Add("customers", ErasedCustomerJson());
  REQUIRE(offline.ok());
  REQUIRE(sync::EraseRoot(*a.store, {"customers", *offline, "agent-1", 1}).ok());
  auto r = a.Sync(*server.transport, token);
  INFO(r.status().ToString());
  REQUIRE(r.ok());

  auto shared = a.archive->Add("customers", R"({"name":"孙八"})");
  REQUIRE(shared.ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  REQUIRE(sync::EraseRoot(*a.store, {"customers", *shared, "agent-1", 2}).ok());
  REQUIRE(sync::EraseRoot(*b.store, {"customers", *shared, "agent-1", 3}).ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  CHECK(a.Export() == b.Export());
  CHECK(Count(*b.store, "SELECT count(*) FROM erasures") == 2);
}

TEST_CASE("erasure: refuses what is not a root, an unknown id, and a malformed id", "[sync][erasure]") {
  TempDir dir;
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  auto id = a.archive->Add("customers", R"({"name":"周九"})");
  REQUIRE(id.ok());
  auto visit = a.archive->Add("visits", R"({"channel":"visit"})", *id);
  REQUIRE(visit.ok());
  CHECK(sync::EraseRoot(*a.store, {"visits", *visit, "agent-1", 0}).code() == ErrorCode::kInvalidArgument);
  CHECK(sync::EraseRoot(*a.store, {"customers", "not-an-id", "agent-1", 0}).code() == ErrorCode::kInvalidField);
  CHECK(sync::EraseRoot(*a.store, {"customers", *visit, "agent-1", 0}).code() == ErrorCode::kNotFound);
  CHECK(sync::EraseRoot(*a.store, {"nothing", *id, "agent-1", 0}).code() == ErrorCode::kUnknownField);
  CHECK(a.archive->Show("customers", *id).ok());
}
