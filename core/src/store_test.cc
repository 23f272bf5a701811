#include "fieldbook/core/store.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "fieldbook/core/archive.h"
#include "support/test_support.h"

using namespace fieldbook;
using fieldbook::testing::TempDir;

namespace {

std::unique_ptr<Store> OpenOrDie(const std::string& path, StoreOptions options = {}) {
  auto store = Store::Open(path, options);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

}  // namespace

TEST_CASE("a new store is in WAL mode with foreign keys and the current schema", "[store]") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("a.db"));
  CHECK(store->CheckInvariants().ok());
  CHECK(store->registry().Find("customers") != nullptr);
  // Reopening is idempotent.
  store.reset();
  store = OpenOrDie(dir.File("a.db"));
  CHECK(store->CheckInvariants().ok());
}

TEST_CASE("a database written by a newer Fieldbook is refused and left untouched", "[store]") {
  TempDir dir;
  const std::string path = dir.File("newer.db");
  {
    auto store = OpenOrDie(path);
    REQUIRE(store->Exec("PRAGMA user_version=999").ok());
  }
  const std::string before = testing::ReadFile(path);
  auto again = Store::Open(path);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == ErrorCode::kSchemaTooNew);
  CHECK(again.status().message().find("newer Fieldbook") != std::string::npos);
  CHECK(testing::ReadFile(path) == before);
}

TEST_CASE("a file that is not a database gives a clear error", "[store]") {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  testing::WriteFile(path, std::string(4096, 'x'));
  auto store = Store::Open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == ErrorCode::kNotADatabase);
  CHECK(testing::ReadFile(path) == std::string(4096, 'x'));
}

TEST_CASE("a corrupted database reports corruption instead of crashing", "[store]") {
  TempDir dir;
  const std::string path = dir.File("corrupt.db");
  int64_t root = 0, page_size = 0;
  std::string some_id;
  {
    auto store = OpenOrDie(path);
    Archive archive(*store);
    REQUIRE(Archive::Init(*store, "agent-1", "").ok());
    for (int i = 0; i < 300; ++i) {
      auto id = archive.Add("customers", R"({"name":"客户)" + std::to_string(i) + R"(","notes":")" + std::string(400, 'n') + R"("})");
      REQUIRE(id.ok());
      some_id = *id;
    }
    auto read = [&](const char* sql) {
      auto st = store->Prepare(sql);
      REQUIRE(st.ok());
      REQUIRE(*st->Step());
      return st->Int(0);
    };
    root = read("SELECT rootpage FROM sqlite_schema WHERE name = 'customers'");
    page_size = read("PRAGMA page_size");
    REQUIRE(store->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  // Every customer lives below the table's root page (an interior page with 300 rows of
  // 400+ bytes); an impossible page type there makes every read of the table fail.
  std::string bytes = testing::ReadFile(path);
  REQUIRE(root > 1);
  const size_t offset = static_cast<size_t>((root - 1) * page_size);
  REQUIRE(offset + static_cast<size_t>(page_size) <= bytes.size());
  REQUIRE(bytes[offset] == 0x05);  // interior table b-tree page
  bytes[offset] = 0x00;
  testing::WriteFile(path, bytes);

  auto store = OpenOrDie(path);  // the header and schema are intact
  Archive archive(*store);
  auto list = archive.List(ListQuery());
  REQUIRE_FALSE(list.ok());
  CHECK(list.status().code() == ErrorCode::kCorrupt);
  CHECK(list.status().message().find(path) != std::string::npos);
  auto show = archive.Show("customers", some_id);
  REQUIRE_FALSE(show.ok());
  CHECK(show.status().code() == ErrorCode::kCorrupt);
  auto add = archive.Add("customers", R"({"name":"new"})");
  REQUIRE_FALSE(add.ok());
  CHECK(add.status().code() == ErrorCode::kCorrupt);
}

TEST_CASE("a full disk fails the write cleanly and keeps earlier data", "[store]") {
  TempDir dir;
  StoreOptions options;
  options.max_page_count = 120;
  auto store = OpenOrDie(dir.File("full.db"), options);
  Archive archive(*store);
  REQUIRE(Archive::Init(*store, "agent-1", "").ok());
  REQUIRE(archive.Add("customers", R"({"name":"first"})").ok());
  Status failure;
  int added = 0;
  for (int i = 0; i < 2000 && failure.ok(); ++i) {
    auto id = archive.Add("customers", R"({"name":"n)" + std::to_string(i) + R"(","notes":")" + std::string(3000, 'z') + R"("})");
    failure = id.status();
    if (id.ok()) ++added;
  }
  REQUIRE_FALSE(failure.ok());
  CHECK(failure.code() == ErrorCode::kDiskFull);
  auto st = store->Prepare("SELECT count(*) FROM customers");
  REQUIRE(st.ok());
  REQUIRE(*st->Step());
  CHECK(st->Int(0) == added + 1);
  auto check = store->Prepare("PRAGMA integrity_check");
  REQUIRE(check.ok());
  REQUIRE(*check->Step());
  CHECK(check->Text(0) == "ok");
}

TEST_CASE("a transaction that is not committed rolls back", "[store]") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("t.db"));
  REQUIRE(store->SetSetting("k", "before").ok());
  {
    auto txn = store->Begin();
    REQUIRE(txn.ok());
    REQUIRE(store->SetSetting("k", "inside").ok());
  }
  CHECK(**store->GetSetting("k") == "before");
}
