// Pinyin keys, surname readings, Chinese collation and search through the local index.
#include <algorithm>

#include "archive_testutil.h"
#include "fieldbook/core/pinyin.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

std::vector<std::string> Fulls(PinyinConverter& c, const std::string& name) {
  auto readings = c.Readings(name);
  INFO(readings.status().ToString());
  REQUIRE(readings.ok());
  std::vector<std::string> out;
  for (const auto& r : *readings) out.push_back(r.full + "/" + r.initials);
  return out;
}

std::vector<std::string> Names(ArchiveFixture& f, const std::string& search, const std::string& sort = {}) {
  ListQuery q;
  q.search = search;
  q.sort = sort;
  return Strings(f.List(q), "name");
}

}  // namespace

TEST_CASE("pinyin: queries are ASCII letters, case and spaces ignored") {
  CHECK(PinyinQuery("ZS") == "zs");
  CHECK(PinyinQuery("Zhang San") == "zhangsan");
  CHECK(PinyinQuery("张三").empty());
  CHECK(PinyinQuery("138").empty());
  CHECK(PinyinQuery("  ").empty());
}

#if FIELDBOOK_WITH_ICU

TEST_CASE("pinyin: names read with ICU's Han-Latin, surnames in both readings") {
  auto created = PinyinConverter::Create();
  REQUIRE(created.ok());
  PinyinConverter& c = **created;
  CHECK(Fulls(c, "张三") == std::vector<std::string>{"zhangsan/zs"});
  // 单 reads dan in general and shan as a surname; 曾 ceng/zeng.
  CHECK(Fulls(c, "单田芳") == std::vector<std::string>{"dantianfang/dtf", "shantianfang/stf"});
  const auto zeng = Fulls(c, "曾国藩");
  CHECK(std::find(zeng.begin(), zeng.end(), "zengguofan/zgf") != zeng.end());
  CHECK(Fulls(c, "尉迟恭").back() == "yuchigong/ycg");
  CHECK(Fulls(c, "区家明").back() == "oujiaming/ojm");
  // Only the first character is a surname: 单 later in a name keeps its common reading.
  CHECK(Fulls(c, "李单") == std::vector<std::string>{"lidan/ld"});
  // Latin letters and digits form one syllable each run.
  CHECK(Fulls(c, "Tom 李") == std::vector<std::string>{"tomli/tl"});
  auto keys = c.Keys("单田芳");
  REQUIRE(keys.ok());
  CHECK(*keys == "|dtf|dantianfang|stf|shantianfang|");
}

TEST_CASE("pinyin: the zh collation sorts names in pinyin order") {
  ArchiveFixture f;
  for (const char* name : {"赵六", "张三", "阿明", "王五", "李四", "Bob"}) {
    f.Add("customers", std::string(R"({"name":")") + name + R"("})");
  }
  // ICU's zh order: Han names by pinyin, then Latin ones.
  CHECK(Names(f, "", "name") == std::vector<std::string>{"阿明", "李四", "王五", "张三", "赵六", "Bob"});
  // Renaming moves the customer to its new place.
  ListQuery all;
  const auto rows = f.List(all);
  std::string zhao;
  for (const auto& r : rows.GetArray()) {
    if (Text(r, "name") == "赵六") zhao = Text(r, "id");
  }
  REQUIRE(f.archive->Set("customers", zhao, R"({"name":"艾六"})").ok());
  CHECK(Names(f, "", "name").front() == "阿明");
  CHECK(Names(f, "", "name")[1] == "艾六");
}

TEST_CASE("pinyin: customer search matches initials and full pinyin in either surname reading") {
  ArchiveFixture f;
  f.Add("customers", R"({"name":"张三","phones":["13800138000"]})");
  f.Add("customers", R"({"name":"单田芳"})");
  f.Add("customers", R"({"name":"曾小贤"})");
  f.Add("customers", R"({"name":"李四","notes":"zs 的同事"})");
  CHECK(Names(f, "zs") == std::vector<std::string>{"张三", "李四"});  // 李四 by the notes
  CHECK(Names(f, "zhangsan") == std::vector<std::string>{"张三"});
  CHECK(Names(f, "Zhang San") == std::vector<std::string>{"张三"});
  CHECK(Names(f, "dtf") == std::vector<std::string>{"单田芳"});
  CHECK(Names(f, "shantianfang") == std::vector<std::string>{"单田芳"});
  CHECK(Names(f, "zengx") == std::vector<std::string>{"曾小贤"});
  CHECK(Names(f, "138001") == std::vector<std::string>{"张三"});  // phones still match
  CHECK(Names(f, "田芳") == std::vector<std::string>{"单田芳"});
  CHECK(Names(f, "qq").empty());
  // Keys are kept on write: a rename is found by its new pinyin at once.
  ListQuery q;
  q.search = "dtf";
  const std::string id = Text(f.List(q)[0], "id");
  REQUIRE(f.archive->Set("customers", id, R"({"name":"王芳"})").ok());
  CHECK(Names(f, "dtf").empty());
  CHECK(Names(f, "wf") == std::vector<std::string>{"王芳"});
  CHECK(f.Count("SELECT count(*) FROM fb_customer_pinyin WHERE keys IS NULL") == 0);
  REQUIRE(f.archive->Remove("customers", id).ok());
  CHECK(f.Count("SELECT count(*) FROM fb_customer_pinyin") == 3);
}

#else

TEST_CASE("pinyin: a build without ICU says pinyin is unavailable") {
  CHECK_FALSE(PinyinAvailable());
  auto created = PinyinConverter::Create();
  CHECK(created.status().code() == ErrorCode::kUnavailable);
  ArchiveFixture f;
  ListQuery q;
  q.sort = "name";
  auto sorted = f.archive->List(q);
  CHECK(sorted.status().code() == ErrorCode::kUnavailable);
}

#endif
