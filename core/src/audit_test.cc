// The access audit: rows hold ids and codes only, are append-only and listed by date.
#include "archive_testutil.h"
#include "fieldbook/core/audit.h"

using namespace fieldbook;
using namespace fieldbook::testing;

TEST_CASE("audit: an access row records agent, time, action, ids and purpose, and nothing personal") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"张三","phones":["13800138000"],"id_number":"11010519491231002X"})");
  AccessRecord r;
  r.action = "read";
  r.target = "customers";
  r.ids = {c};
  r.purpose = "claim";
  REQUIRE(RecordAccess(*f.store, r).ok());
  AccessRecord list;
  list.action = "list";
  list.target = "customers";
  IdsFromRows(R"([{"id":"a"},{"id":"b"}])", list);
  REQUIRE(RecordAccess(*f.store, list).ok());

  auto json = ListAccessJson(*f.store, "", "");
  REQUIRE(json.ok());
  CHECK(json->find("张三") == std::string::npos);
  CHECK(json->find("13800138000") == std::string::npos);
  CHECK(json->find("11010519491231002X") == std::string::npos);
  auto rows = ParseJson(*json, "audit");
  REQUIRE(rows->Size() == 2);
  const auto& first = (*rows)[0];
  CHECK(Text(first, "agent") == "agent-7");
  CHECK(Text(first, "team") == "team-3");
  CHECK(first["at"].GetInt64() == f.env.NowMs());
  CHECK(Text(first, "purpose") == "claim");
  CHECK(first["row_ids"][0].GetString() == c);
  CHECK(Text((*rows)[1], "purpose") == "service");  // the default for reads
  CHECK((*rows)[1]["row_count"].GetInt64() == 2);

  SECTION("a bad purpose is refused and nothing is written") {
    r.purpose = "curiosity";
    CHECK(RecordAccess(*f.store, r).field() == "purpose");
    CHECK(f.Count("SELECT count(*) FROM access_audit") == 2);
  }
  SECTION("rows cannot be changed, deleted or written through the record layer") {
    const std::string id = Text(first, "id");
    CHECK_FALSE(f.store->Exec("DELETE FROM access_audit").ok());
    CHECK(f.archive->Remove("access_audit", id).ok() == false);
    CHECK(f.archive->Add("access_audit", R"({"agent":"x","at":1,"action":"read","target":"t","row_count":1,
        "purpose":"other","channel":"cli"})").status().code() == ErrorCode::kReadOnlyField);
    CHECK(f.Count("SELECT count(*) FROM access_audit") == 2);
  }
  SECTION("listing filters by day in China Standard Time") {
    CHECK(ParseJson(*ListAccessJson(*f.store, "2000-01-01", "2000-01-02"), "a")->Size() == 0);
    CHECK(ListAccessJson(*f.store, "2026-02-01", "2026-01-01").status().field() == "from");
    CHECK(ListAccessJson(*f.store, "yesterday", "").status().field() == "from");
  }
  CHECK(HoldsPersonalData(*f.store->registry().Find("customers")));
  CHECK_FALSE(HoldsPersonalData(*f.store->registry().Find("policies")));
}
