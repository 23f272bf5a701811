// Test helpers shared by the archive tests: a profile in a temporary directory with a
// clock and id source the test controls, and small readers of the JSON the archive returns.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/archive_schema.h"
#include "fieldbook/core/env.h"
#include "fieldbook/core/json.h"
#include "read_beside.h"
#include "support/test_support.h"

namespace fieldbook::testing {

// A clock that moves only when told to and a seeded random source, so two profiles fed
// the same calls hold the same bytes.
class ManualEnv final : public Env {
 public:
  explicit ManualEnv(int64_t now_ms = 1767225600000, uint64_t seed = 7) : now_ms_(now_ms), rng_(seed) {}
  int64_t NowMs() override { return now_ms_; }
  void RandomBytes(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng_());
  }
  void Advance(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_;
  std::mt19937_64 rng_;
};

// An initialised agent profile ("agent-7" of "team-3") in its own directory.
struct ArchiveFixture {
  explicit ArchiveFixture(StoreOptions options = {}, const std::string& file = "profile.db") {
    if (!options.env) options.env = &env;
    path = dir.File(file);
    auto opened = Store::Open(path, options);
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    REQUIRE(Archive::Init(*store, "agent-7", "team-3").ok());
    archive = std::make_unique<Archive>(*store);
  }
  ~ArchiveFixture() {
    archive.reset();
    store.reset();
  }

  // Adds a row and returns its id; the test fails when the archive refuses it.
  std::string Add(std::string_view table, std::string_view json, std::string_view customer_id = {}) {
    auto id = archive->Add(table, json, customer_id);
    INFO(std::string(table) << " " << std::string(json) << ": " << id.status().ToString());
    REQUIRE(id.ok());
    return *id;
  }

  rapidjson::Document Show(std::string_view table, std::string_view id) {
    auto json = archive->Show(table, id);
    INFO(json.status().ToString());
    REQUIRE(json.ok());
    auto doc = ParseJsonObject(*json, "show");
    REQUIRE(doc.ok());
    return std::move(doc).value();
  }

  rapidjson::Document List(const ListQuery& query) {
    auto json = archive->List(query);
    INFO(json.status().ToString());
    REQUIRE(json.ok());
    auto doc = ParseJson(*json, "list");
    REQUIRE(doc.ok());
    REQUIRE(doc->IsArray());
    return std::move(doc).value();
  }

  int64_t Count(const std::string& sql) {
    auto st = store->Prepare(sql);
    INFO(sql << ": " << st.status().ToString());
    REQUIRE(st.ok());
    auto row = st->Step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return st->Int(0);
  }

  ManualEnv env;
  TempDir dir;
  std::string path;
  std::unique_ptr<Store> store;
  std::unique_ptr<Archive> archive;
};

// The rows of `table` (of one customer when given).
inline ListQuery Rows(std::string table, std::string customer_id = {}) {
  ListQuery q;
  q.table = std::move(table);
  q.customer_id = std::move(customer_id);
  return q;
}

// Values of `key` (strings) in a JSON array of objects, in order.
inline std::vector<std::string> Strings(const rapidjson::Value& rows, const char* key) {
  std::vector<std::string> out;
  for (const auto& row : rows.GetArray()) {
    out.emplace_back(row[key].IsString() ? row[key].GetString() : "<not a string>");
  }
  return out;
}

inline std::string Text(const rapidjson::Value& object, const char* key) {
  REQUIRE(object.HasMember(key));
  REQUIRE(object[key].IsString());
  return std::string(object[key].GetString(), object[key].GetStringLength());
}

// While it lives, the calendar and the reports read beside the profile's connection on a
// second one however small the book (see ReadBeside).
class SecondConnection {
 public:
  SecondConnection() : before_(internal::SetReadBesideThreshold(0)) {}
  ~SecondConnection() { internal::SetReadBesideThreshold(before_); }
  SecondConnection(const SecondConnection&) = delete;
  SecondConnection& operator=(const SecondConnection&) = delete;

 private:
  const int64_t before_;
};

}  // namespace fieldbook::testing
