// Archive::ImportJsonl: mapping of foreign layouts, line-numbered refusals, updates by
// external reference, and all-or-nothing behaviour when a line, the disk or the input fails.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <streambuf>

#include "archive_testutil.h"
#include "fieldbook/core/civil_time.h"

using namespace fieldbook;
using fieldbook::testing::ArchiveFixture;
using fieldbook::testing::Strings;
using fieldbook::testing::Text;

namespace {

// One customer in the common CRM export layout (the layout of the benchmark file).
std::string ForeignLine(int i, const std::string& tier = "gold", const std::string& extra = "") {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                R"({"id":"cust-%08d","name":"Kunde %d 客户","phone":"+49-276-%07d","email":"k%d@example.com",)"
                R"("birthday":"1977-01-27","street":"Bergstrasse %d","city":"Hamburg","postal_code":"86861",)"
                R"("country":"DE","tier":"%s","needs":["life","pet"],"income":%d.5,"notes":"asked about garden )"
                R"(cover %d, callback next quarter","agent_id":"agent-0177","created_at":"2022-08-22T23:51:41.463Z",)"
                R"("updated_at":"2022-08-22T23:51:41.463Z"%s})",
                i, i, 2000000 + i, i, i, tier.c_str(), 1000 + i, i, extra.c_str());
  return buf;
}

std::string Lines(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += ForeignLine(i) + "\n";
  return out;
}

Result<ImportReport> Import(ArchiveFixture& f, const std::string& text, const ProgressFn& progress = nullptr) {
  std::istringstream in(text);
  return f.archive->ImportJsonl(in, static_cast<int64_t>(text.size()), progress);
}

ImportReport ImportOk(ArchiveFixture& f, const std::string& text) {
  auto report = Import(f, text);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  return *report;
}

int64_t CustomerCount(ArchiveFixture& f) { return f.Count("SELECT count(*) FROM customers"); }

rapidjson::Document ByRef(ArchiveFixture& f, const std::string& ref) {
  ListQuery q;
  q.equals.emplace_back("external_ref", Value{ref});
  auto rows = f.List(q);
  REQUIRE(rows.Size() == 1);
  rapidjson::Document one;
  one.CopyFrom(rows[0], one.GetAllocator());
  return one;
}

void ExpectIndexesIntact(ArchiveFixture& f) {
  auto check = f.store->Prepare("PRAGMA integrity_check");
  REQUIRE(check.ok());
  REQUIRE(*check->Step());
  CHECK(check->Text(0) == "ok");
  // Once brought up to date, the full-text index matches the customers table exactly.
  REQUIRE(RefreshSearchIndex(*f.store).ok());
  CHECK(f.Count("SELECT count(*) FROM fb_customer_fts_stale") == 0);
  CHECK(f.store->Exec("INSERT INTO fb_customer_fts(fb_customer_fts, rank) VALUES ('integrity-check', 1)").ok());
}

// A stream whose source fails (throws) after `good` bytes, like a file on a removed card.
class FailingBuf : public std::streambuf {
 public:
  FailingBuf(std::string data, size_t good) : data_(std::move(data)), good_(good) {}

 protected:
  int_type underflow() override {
    if (pos_ >= good_) throw std::ios_base::failure("device removed");
    if (pos_ >= data_.size()) return traits_type::eof();
    const size_t n = std::min<size_t>(64, std::min(good_, data_.size()) - pos_);
    setg(&data_[pos_], &data_[pos_], &data_[pos_] + n);
    pos_ += n;
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string data_;
  size_t good_;
  size_t pos_ = 0;
};

}  // namespace

TEST_CASE("foreign-layout lines map onto customer columns", "[import]") {
  ArchiveFixture f;
  const auto report = ImportOk(f, ForeignLine(0, "bronze") + "\n");
  CHECK(report.inserted == 1);
  CHECK(report.updated == 0);
  CHECK(report.lines == 1);
  auto c = ByRef(f, "cust-00000000");
  CHECK(Text(c, "name") == "Kunde 0 客户");
  CHECK(Text(c, "kind") == "person");
  CHECK(c["phones"].Size() == 1);
  CHECK(std::string(c["phones"][0].GetString()) == "+49-276-2000000");
  CHECK(Text(c, "email") == "k0@example.com");
  CHECK(Text(c, "birth_date") == "1977-01-27");
  CHECK(Text(c, "street") == "Bergstrasse 0");
  CHECK(Text(c, "city") == "Hamburg");
  CHECK(Text(c, "postal_code") == "86861");
  CHECK(Text(c, "country") == "DE");
  CHECK(Text(c, "value_tier") == "low");
  CHECK(ToJson(c["interests"]) == R"(["life","pet"])");
  CHECK(c["annual_income"].GetInt64() == 100050);  // 1000.5 currency units in fen
  CHECK(Text(c, "notes") == "asked about garden cover 0, callback next quarter");
  CHECK(Text(c, "legacy_owner") == "agent-0177");
  CHECK(Text(c, "owner_agent") == "agent-7");
  CHECK(Text(c, "team") == "team-3");
  CHECK(Text(c, "lifecycle_stage") == "lead");
  CHECK(c["created_at"].GetInt64() == *ParseTimestampMs("2022-08-22T23:51:41.463Z"));
  CHECK(c["updated_at"].GetInt64() == f.env.NowMs());
  ExpectIndexesIntact(f);
}

TEST_CASE("every foreign tier maps to a value tier, and other values are refused", "[import]") {
  ArchiveFixture f;
  const std::map<std::string, std::string> tiers = {
      {"platinum", "high"}, {"gold", "potential"}, {"silver", "general"}, {"bronze", "low"}, {"general", "general"}};
  std::string text;
  int i = 0;
  for (const auto& [tier, _] : tiers) text += ForeignLine(i++, tier) + "\n";
  ImportOk(f, text);
  i = 0;
  for (const auto& [tier, value] : tiers) {
    char ref[32];
    std::snprintf(ref, sizeof ref, "cust-%08d", i++);
    CHECK(Text(ByRef(f, ref), "value_tier") == value);
  }
  auto bad = Import(f, ForeignLine(99, "diamond"));
  CHECK(bad.status().code() == ErrorCode::kInvalidField);
  CHECK(bad.status().field() == "value_tier");
  // The refused value is not echoed (it might be personal data); the allowed ones are listed.
  CHECK(bad.status().message().find("diamond") == std::string::npos);
  CHECK(bad.status().message().find("potential") != std::string::npos);
}

TEST_CASE("foreign needs, income and phone variants", "[import]") {
  ArchiveFixture f;
  ImportOk(f,
           R"({"id":"a1","name":"A","needs":"family","income":0,"phone":null})" "\n"
           R"({"id":"a2","name":"B","income":12345.67,"phone":"+86 139 0013 9000"})" "\n"
           R"({"external_ref":"a3","name":"C","phones":["13800138000"],"annual_income":7})" "\n");
  auto a = ByRef(f, "a1");
  CHECK(Text(a, "needs_segment") == "family");
  CHECK(a["annual_income"].GetInt64() == 0);
  CHECK(a["phones"].Size() == 0);
  auto b = ByRef(f, "a2");
  CHECK(b["annual_income"].GetInt64() == 1234567);
  CHECK(ToJson(b["phones"]) == R"(["13900139000"])");
  CHECK(ByRef(f, "a3")["annual_income"].GetInt64() == 7);

  auto text = Import(f, R"({"id":"b1","name":"A","income":"lots"})");
  CHECK(text.status().field() == "income");
  auto negative = Import(f, R"({"id":"b1","name":"A","income":-1})");
  CHECK(negative.status().field() == "income");
  auto phone = Import(f, R"({"id":"b1","name":"A","phone":"12345"})");
  CHECK(phone.status().field() == "phones[0]");
}

TEST_CASE("a bad line is reported by number and nothing of the import is kept", "[import]") {
  ArchiveFixture f;
  SECTION("a value that fails validation") {
    auto r = Import(f, Lines(0, 3) + R"({"id":"x","name":"bad phone","phone":"1380013800"})" + "\n" + Lines(3, 6));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kInvalidField);
    CHECK(r.status().field() == "phones[0]");
    CHECK(r.status().message().rfind("line 4: ", 0) == 0);
  }
  SECTION("text that is not JSON") {
    auto r = Import(f, Lines(0, 1) + "{\"name\": \"unterminated\n" + Lines(1, 2));
    CHECK(r.status().code() == ErrorCode::kInvalidJson);
    CHECK(r.status().message().find("line 2") != std::string::npos);
  }
  SECTION("a key Fieldbook does not know") {
    auto r = Import(f, Lines(0, 2) + R"({"name":"a","nickname":"x"})" + "\n");
    CHECK(r.status().code() == ErrorCode::kUnknownField);
    CHECK(r.status().field() == "nickname");
    CHECK(r.status().message().rfind("line 3: ", 0) == 0);
  }
  SECTION("a line without the required name") {
    auto r = Import(f, Lines(0, 1) + R"({"id":"n1","city":"Berlin"})" + "\n");
    CHECK(r.status().code() == ErrorCode::kMissingField);
    CHECK(r.status().field() == "name");
    CHECK(r.status().message().rfind("line 2: ", 0) == 0);
  }
  SECTION("blank lines and CRLF endings count as lines") {
    auto r = Import(f, "\n" + ForeignLine(0) + "\r\n   \r\n" + R"({"name":""})" + "\r\n");
    CHECK(r.status().message().rfind("line 4: ", 0) == 0);
  }
  SECTION("a bad line after several chunks were written") {
    auto r = Import(f, Lines(0, 9000) + R"({"id":"late","name":"x","birthday":"1990-02-30"})" + "\n");
    CHECK(r.status().field() == "birth_date");
    CHECK(r.status().message().rfind("line 9001: ", 0) == 0);
  }
  CHECK(CustomerCount(f) == 0);
  ExpectIndexesIntact(f);
  // The profile is still usable.
  CHECK(ImportOk(f, Lines(0, 2) + "\r\n\n").inserted == 2);
}

TEST_CASE("re-importing updates customers by external_ref instead of duplicating", "[import]") {
  ArchiveFixture f;
  ImportOk(f, Lines(0, 3));
  const auto first = ByRef(f, "cust-00000001");
  const std::string id = Text(first, "id");
  f.env.Advance(1000);
  const std::string changed =
      ForeignLine(0) + "\n" +
      R"({"id":"cust-00000001","name":"Kunde 1 客户","notes":"moved to Munich","city":"München","tier":"platinum","created_at":"2023-01-01T00:00:00Z"})" +
      "\n" + ForeignLine(2) + "\n" + ForeignLine(3) + "\n";
  const auto report = ImportOk(f, changed);
  CHECK(report.inserted == 1);
  CHECK(report.updated == 3);
  CHECK(CustomerCount(f) == 4);
  const auto after = ByRef(f, "cust-00000001");
  CHECK(Text(after, "id") == id);
  CHECK(Text(after, "notes") == "moved to Munich");
  CHECK(Text(after, "city") == "München");
  CHECK(Text(after, "value_tier") == "high");
  CHECK(Text(after, "email") == "k1@example.com");  // keys the line leaves out are kept
  CHECK(after["created_at"].GetInt64() == first["created_at"].GetInt64());  // creation is history
  CHECK(after["updated_at"].GetInt64() == f.env.NowMs());
  ListQuery q;
  q.search = "Munich";
  CHECK(Strings(f.List(q), "id") == std::vector<std::string>{id});
  q.search = "garden cover 1,";
  CHECK(f.List(q).Size() == 0);

  // A line carrying a Fieldbook id updates that customer.
  ImportOk(f, R"({"id":")" + id + R"(","occupation":"Lehrer"})" + "\n");
  CHECK(Text(f.Show("customers", id), "occupation") == "Lehrer");
  CHECK(CustomerCount(f) == 4);
  ExpectIndexesIntact(f);
}

TEST_CASE("the same customer twice in one file is refused", "[import]") {
  ArchiveFixture f;
  SECTION("by external_ref") {
    auto r = Import(f, Lines(0, 3) + ForeignLine(1) + "\n");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().field() == "external_ref");
    CHECK(r.status().message().rfind("line 4: ", 0) == 0);
    CHECK(r.status().message().find("already appears on line 2") != std::string::npos);
  }
  SECTION("by Fieldbook id") {
    const std::string line = R"({"id":"0190a5c4-1111-7222-8333-444455556666","name":"a"})";
    auto r = Import(f, line + "\n" + Lines(0, 2) + line + "\n");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().field() == "id");
    CHECK(r.status().message().rfind("line 4: ", 0) == 0);
    CHECK(r.status().message().find("already appears on line 1") != std::string::npos);
  }
  CHECK(CustomerCount(f) == 0);
}

TEST_CASE("an import that fills the disk midway leaves nothing behind", "[import][failure]") {
  const std::string text = Lines(0, 20000);
  int64_t base_pages = 0, full_pages = 0;
  {
    ArchiveFixture probe;
    base_pages = probe.Count("PRAGMA page_count");
    ImportOk(probe, text);
    full_pages = probe.Count("PRAGMA page_count");
  }
  REQUIRE(full_pages > base_pages + 100);
  StoreOptions options;
  options.max_page_count = base_pages + (full_pages - base_pages) / 2;
  ArchiveFixture f(options);
  f.Add("customers", R"({"name":"已有客户","notes":"before the import"})");
  int64_t last_progress = 0;
  auto r = Import(f, text, [&](int64_t done, int64_t) { last_progress = done; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kDiskFull);
  CHECK(last_progress > 0);  // it failed midway, not at the start
  CHECK(last_progress < static_cast<int64_t>(text.size()));
  CHECK(CustomerCount(f) == 1);
  ExpectIndexesIntact(f);
  ListQuery q;
  q.search = "before the";
  CHECK(f.List(q).Size() == 1);
  // Smaller imports and single writes still work.
  CHECK(ImportOk(f, Lines(0, 100)).inserted == 100);
  f.Add("customers", R"({"name":"之后"})");
}

TEST_CASE("an import whose input fails midway leaves nothing behind", "[import][failure]") {
  ArchiveFixture f;
  const std::string text = Lines(0, 6000);
  FailingBuf buf(text, text.size() / 2);
  std::istream in(&buf);
  auto r = f.archive->ImportJsonl(in, static_cast<int64_t>(text.size()), nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kIoError);
  CHECK(CustomerCount(f) == 0);
  ExpectIndexesIntact(f);
}

TEST_CASE("a large import is complete, searchable and reports progress", "[import]") {
  ArchiveFixture f;
  const std::string text = Lines(0, 10000);
  std::vector<int64_t> progress;
  auto r = Import(f, text, [&](int64_t done, int64_t total) {
    CHECK(total == static_cast<int64_t>(text.size()));
    progress.push_back(done);
  });
  REQUIRE(r.ok());
  CHECK(r->inserted == 10000);
  CHECK(CustomerCount(f) == 10000);
  REQUIRE(progress.size() >= 10);
  CHECK(std::is_sorted(progress.begin(), progress.end()));
  CHECK(progress.back() == static_cast<int64_t>(text.size()));
  ListQuery q;
  q.search = "276-2009999";
  CHECK(Strings(f.List(q), "external_ref") == std::vector<std::string>{"cust-00009999"});
  q.search = "Kunde 4242 客户";
  CHECK(Strings(f.List(q), "external_ref") == std::vector<std::string>{"cust-00004242"});
  q.search = "客户";
  q.limit = 5;
  CHECK(f.List(q).Size() == 5);
  ExpectIndexesIntact(f);
}

TEST_CASE("an import leaves index and cache settings as it found them", "[import]") {
  ArchiveFixture f;
  auto setting = [&](const char* key) {
    return f.Count(std::string("SELECT coalesce((SELECT v FROM fb_customer_fts_config WHERE k = '") + key +
                   "'), -1)");
  };
  REQUIRE(f.store->Exec("INSERT INTO fb_customer_fts(fb_customer_fts, rank) VALUES ('automerge', 8)").ok());
  ImportOk(f, Lines(0, 100));
  CHECK(setting("automerge") == 8);
  CHECK(setting("hashsize") == -1);  // never set: FTS5's default
  // The imported customers wait for the first search to be indexed.
  CHECK(f.Count("SELECT count(*) FROM fb_customer_fts_stale") == 100);
  REQUIRE_FALSE(Import(f, Lines(100, 200) + "{}\n").ok());
  CHECK(setting("automerge") == 8);
  CHECK(f.Count("SELECT count(*) FROM customers") == 100);
  CHECK(f.Count("SELECT count(*) FROM fb_customer_fts_stale") == 100);  // the failed import marked nothing
  // The larger page cache of an import is the connection's own setting again afterwards.
  CHECK(f.Count("PRAGMA cache_size") == -8192);
}
