#include "fieldbook/core/records.h"

#include <catch2/catch.hpp>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/archive_schema.h"
#include "support/test_support.h"

using namespace fieldbook;
using fieldbook::testing::TempDir;

namespace {

const TableSpec& Customers() { return *ArchiveRegistry().Find("customers"); }
const TableSpec& Policies() { return *ArchiveRegistry().Find("policies"); }

const ColumnSpec& Column(const TableSpec& t, std::string_view name) {
  const ColumnSpec* c = t.Find(name);
  REQUIRE(c != nullptr);
  return *c;
}

// The value `json` converts to for one column of customers (or `table`).
Result<Value> Convert(std::string_view column, std::string_view json, const TableSpec& t = Customers()) {
  auto doc = ParseJson(json, "test");
  REQUIRE(doc.ok());
  return ColumnValueFromJson(Column(t, column), *doc);
}

std::string TextOf(const Result<Value>& v) {
  REQUIRE(v.ok());
  REQUIRE(AsText(*v) != nullptr);
  return *AsText(*v);
}

int64_t IntOf(const Result<Value>& v) {
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  REQUIRE(AsInt(*v) != nullptr);
  return *AsInt(*v);
}

ErrorCode CodeOf(const Result<Value>& v) { return v.status().code(); }

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Archive> archive;
  Fixture() {
    auto s = Store::Open(dir.File("records.db"));
    REQUIRE(s.ok());
    store = std::move(s).value();
    REQUIRE(Archive::Init(*store, "agent-7", "team-3").ok());
    archive = std::make_unique<Archive>(*store);
  }
  ~Fixture() {
    archive.reset();
    store.reset();
  }
  Records& records() { return archive->records(); }
  Result<RowValues> FromJson(const TableSpec& t, std::string_view json) {
    auto doc = ParseJsonObject(json, "test");
    REQUIRE(doc.ok());
    return records().FromJson(t, *doc);
  }
};

WriteContext Ctx(int64_t now = 1700000000000) { return WriteContext{"agent-7", "team-3", now}; }

}  // namespace

TEST_CASE("money is a whole, non-negative number of fen", "[records]") {
  CHECK(IntOf(Convert("annual_income", "1234500")) == 1234500);
  CHECK(IntOf(Convert("annual_income", "0")) == 0);
  CHECK(IntOf(Convert("annual_income", "1000.0")) == 1000);  // a whole number written as a double
  auto fraction = Convert("annual_income", "12.5");
  CHECK(CodeOf(fraction) == ErrorCode::kInvalidField);
  CHECK(fraction.status().message().find("whole number") != std::string::npos);
  auto negative = Convert("annual_income", "-1");
  CHECK(CodeOf(negative) == ErrorCode::kInvalidField);
  CHECK(negative.status().message().find("negative") != std::string::npos);
  CHECK(CodeOf(Convert("annual_income", "\"100\"")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("annual_income", "18446744073709551615")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("premium", "99.99", Policies())) == ErrorCode::kInvalidField);
}

TEST_CASE("counts and percentages are bounded whole numbers", "[records]") {
  CHECK(IntOf(Convert("staff_count", "250")) == 250);
  CHECK(CodeOf(Convert("staff_count", "-3")) == ErrorCode::kInvalidField);
  const TableSpec& roles = *ArchiveRegistry().Find("policy_roles");
  CHECK(IntOf(Convert("share_percent", "100", roles)) == 100);
  CHECK(CodeOf(Convert("share_percent", "101", roles)) == ErrorCode::kInvalidField);
}

TEST_CASE("dates are strict calendar days in YYYY-MM-DD form", "[records]") {
  CHECK(TextOf(Convert("birth_date", "\"2000-02-29\"")) == "2000-02-29");
  CHECK(CodeOf(Convert("birth_date", "\"1999-02-29\"")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("birth_date", "\"1990-1-5\"")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("birth_date", "\"1990/01/05\"")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("birth_date", "19900105")) == ErrorCode::kInvalidField);
}

TEST_CASE("timestamps accept ISO 8601 or milliseconds and store UTC milliseconds", "[records]") {
  CHECK(IntOf(Convert("last_contact_at", "\"1970-01-01T00:00:01.250Z\"")) == 1250);
  CHECK(IntOf(Convert("last_contact_at", "\"1970-01-01T08:00:00+08:00\"")) == 0);
  CHECK(IntOf(Convert("last_contact_at", "1700000000000")) == 1700000000000);
  CHECK(CodeOf(Convert("last_contact_at", "-5")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("last_contact_at", "\"yesterday\"")) == ErrorCode::kInvalidField);
}

TEST_CASE("enums accept only their values and say which ones exist", "[records]") {
  CHECK(TextOf(Convert("value_tier", "\"high\"")) == "high");
  auto bad = Convert("value_tier", "\"vip\"");
  CHECK(CodeOf(bad) == ErrorCode::kInvalidField);
  CHECK(bad.status().message().find("high, potential, general, low") != std::string::npos);
  CHECK(CodeOf(Convert("value_tier", "\"High\"")) == ErrorCode::kInvalidField);  // case matters
}

TEST_CASE("booleans are true/false (or 0/1) and render as JSON booleans", "[records]") {
  CHECK(IntOf(Convert("lunar_birthday", "true")) == 1);
  CHECK(IntOf(Convert("lunar_birthday", "0")) == 0);
  CHECK(CodeOf(Convert("lunar_birthday", "2")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("lunar_birthday", "\"yes\"")) == ErrorCode::kInvalidField);
}

TEST_CASE("phone lists normalise mainland mobiles and name the bad element", "[records]") {
  CHECK(TextOf(Convert("phones", R"(["+86 138-0013-8000", "010-62345678"])")) == R"(["13800138000","010-62345678"])");
  CHECK(TextOf(Convert("phones", R"("13900139000")")) == R"(["13900139000"])");  // one number alone
  Fixture p;
  auto row = p.FromJson(Customers(), R"({"name":"a","phones":["13800138000","1380013800"]})");
  REQUIRE_FALSE(row.ok());
  CHECK(row.status().code() == ErrorCode::kInvalidField);
  CHECK(row.status().field() == "phones[1]");
  auto number = p.FromJson(Customers(), R"({"name":"a","phones":[13800138000]})");
  CHECK(number.status().field() == "phones[0]");
}

TEST_CASE("emails, credit codes, coordinates and JSON arrays are checked by format", "[records]") {
  CHECK(TextOf(Convert("email", "\"li.si@example.cn\"")) == "li.si@example.cn");
  CHECK(CodeOf(Convert("email", "\"li.si@example\"")) == ErrorCode::kInvalidField);
  CHECK(TextOf(Convert("credit_code", "\"91110108551385082q\"")) == "91110108551385082Q");
  CHECK(CodeOf(Convert("credit_code", "\"91110108551385082A\"")) == ErrorCode::kInvalidField);
  CHECK(TextOf(Convert("interests", R"(["life", "重疾"])")) == R"(["life","重疾"])");
  CHECK(CodeOf(Convert("interests", R"("life")")) == ErrorCode::kInvalidField);
  const TableSpec& visits = *ArchiveRegistry().Find("visits");
  CHECK(CodeOf(Convert("latitude", "91", visits)) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("longitude", "-180.5", visits)) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("customer_id", "\"not-a-uuid\"", visits)) == ErrorCode::kInvalidField);
}

TEST_CASE("text is kept byte-exact up to the column's limit and refuses NUL", "[records]") {
  const std::string name = "欧阳娜娜 👩‍👩‍👧 𠀀";
  CHECK(TextOf(Convert("name", "\"" + name + "\"")) == name);
  CHECK(CodeOf(Convert("name", "\"" + std::string(201, 'a') + "\"")) == ErrorCode::kInvalidField);
  CHECK(TextOf(Convert("name", "\"" + std::string(200, 'a') + "\"")).size() == 200);
  CHECK(CodeOf(Convert("name", R"("a\u0000b")")) == ErrorCode::kInvalidField);
  CHECK(CodeOf(Convert("name", "null")) == ErrorCode::kMissingField);  // required
  CHECK(IsNull(*Convert("gender", "null")));                          // optional: cleared
}

TEST_CASE("unknown keys are refused by name, never dropped", "[records]") {
  Fixture p;
  auto row = p.FromJson(Customers(), R"({"name":"a","nickname":"小a"})");
  REQUIRE_FALSE(row.ok());
  CHECK(row.status().code() == ErrorCode::kUnknownField);
  CHECK(row.status().field() == "nickname");
  auto id = p.FromJson(Customers(), R"({"name":"a","id":"42"})");
  CHECK(id.status().field() == "id");
  auto ok = p.FromJson(Customers(), R"({"name":"a","id":"0190a5c4-1111-7222-8333-444455556666"})");
  REQUIRE(ok.ok());
  CHECK(ok->id == "0190a5c4-1111-7222-8333-444455556666");
  CHECK(ok->Has("name"));
  CHECK_FALSE(ok->Has("email"));
}

TEST_CASE("RowValues defaults fill only absent or null columns", "[records]") {
  RowValues row(Customers());
  row.Set("name", Value{std::string("a")});
  row.SetDefault("name", Value{std::string("b")});
  CHECK(row.Text("name") == "a");
  row.Set("gender", Value{});
  CHECK(row.Has("gender"));
  CHECK(row.Get("gender") == nullptr);
  row.SetDefault("gender", Value{std::string("female")});
  CHECK(row.Text("gender") == "female");
  row.Set("no_such_column", Value{int64_t{1}});  // ignored
  CHECK_FALSE(row.Has("no_such_column"));
}

TEST_CASE("rows render with id first, or with every key sorted when canonical", "[records]") {
  Fixture p;
  auto row = p.FromJson(Customers(), R"({"name":"张三","lunar_birthday":true,"phones":["13800138000"],"annual_income":5})");
  REQUIRE(row.ok());
  row->id = "0190a5c4-1111-7222-8333-444455556666";
  rapidjson::StringBuffer plain_buf, canon_buf;
  rapidjson::Writer<rapidjson::StringBuffer> plain(plain_buf), canon(canon_buf);
  WriteRowJson(*row, plain);
  WriteRowJson(*row, canon, /*canonical=*/true);
  const std::string a = plain_buf.GetString(), b = canon_buf.GetString();
  CHECK(a.rfind(R"({"id":"0190a5c4-1111-7222-8333-444455556666","kind":null,"name":"张三")", 0) == 0);
  CHECK(a.find(R"("lunar_birthday":true)") != std::string::npos);
  CHECK(a.find(R"("phones":["13800138000"])") != std::string::npos);
  auto doc = ParseJsonObject(b, "canonical");
  REQUIRE(doc.ok());
  std::string previous;
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
    const std::string key = it->name.GetString();
    CHECK(previous < key);
    previous = key;
  }
  CHECK(doc->MemberCount() == Customers().columns.size() + 1);
  CHECK(b == ToCanonicalJson(*doc));
}

TEST_CASE("Records insert, update, read and delete with column checks", "[records]") {
  Fixture p;
  auto row = p.FromJson(Customers(), R"({"name":"李四","kind":"person"})");
  REQUIRE(row.ok());
  auto id = p.records().Insert(std::move(row).value(), Ctx(1000));
  REQUIRE(id.ok());
  auto got = p.records().Get("customers", *id);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->Text("owner_agent") == "agent-7");  // defaults from the context
  CHECK((*got)->Text("team") == "team-3");
  CHECK((*got)->Int("created_at") == 1000);
  CHECK((*got)->Int("updated_at") == 1000);

  auto patch = p.FromJson(Customers(), R"({"notes":"新备注"})");
  REQUIRE(p.records().Update("customers", *id, *patch, Ctx(2000)).ok());
  got = p.records().Get("customers", *id);
  CHECK((*got)->Text("notes") == "新备注");
  CHECK((*got)->Int("created_at") == 1000);
  CHECK((*got)->Int("updated_at") == 2000);
  // updated_at never moves backwards, even when the clock does.
  patch = p.FromJson(Customers(), R"({"notes":"again"})");
  REQUIRE(p.records().Update("customers", *id, *patch, Ctx(1500)).ok());
  CHECK((*p.records().Get("customers", *id))->Int("updated_at") == 2000);

  CHECK(p.FromJson(Customers(), R"({"name":null})").status().field() == "name");
  Status cleared = p.records().Update("customers", *id, RowValues(Customers()), Ctx());
  CHECK(cleared.ok());  // an empty patch changes nothing
  RowValues clear_name(Customers());
  clear_name.Set("name", Value{});
  Status s = p.records().Update("customers", *id, clear_name, Ctx());
  CHECK(s.code() == ErrorCode::kMissingField);
  CHECK(s.field() == "name");

  patch = p.FromJson(Customers(), R"({"created_at":5})");
  s = p.records().Update("customers", *id, *patch, Ctx());
  CHECK(s.code() == ErrorCode::kReadOnlyField);
  CHECK(s.field() == "created_at");

  CHECK(p.records().Update("customers", "0190a5c4-1111-7222-8333-444455556666", *patch, Ctx()).code() ==
        ErrorCode::kNotFound);
  REQUIRE(p.records().Delete("customers", *id).ok());
  CHECK(p.records().Delete("customers", *id).code() == ErrorCode::kNotFound);
  CHECK_FALSE(p.records().Get("customers", *id)->has_value());
}

TEST_CASE("a caller-chosen id is used once", "[records]") {
  Fixture p;
  const std::string uuid = "0190a5c4-1111-7222-8333-444455556666";
  auto row = p.FromJson(Customers(), R"({"name":"a","id":")" + uuid + R"("})");
  REQUIRE(p.records().Insert(*row, Ctx()).value() == uuid);
  auto again = p.records().Insert(*row, Ctx());
  CHECK(again.status().code() == ErrorCode::kConstraint);
  CHECK(again.status().field() == "id");
}

TEST_CASE("a child row must point at an existing parent", "[records]") {
  Fixture p;
  auto visit = p.FromJson(*ArchiveRegistry().Find("visits"),
                          R"({"customer_id":"0190a5c4-1111-7222-8333-444455556666","channel":"phone"})");
  REQUIRE(visit.ok());
  auto id = p.records().Insert(std::move(visit).value(), Ctx());
  CHECK(id.status().code() == ErrorCode::kNotFound);
  CHECK(id.status().field() == "customer_id");
}
