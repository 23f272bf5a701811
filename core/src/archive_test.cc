#include "fieldbook/core/archive.h"

#include <algorithm>

#include "archive_testutil.h"

using namespace fieldbook;
using fieldbook::testing::ArchiveFixture;
using fieldbook::testing::Strings;
using fieldbook::testing::Rows;
using fieldbook::testing::Text;

namespace {

// A customer with one row in every child table; returns the ids by table name.
std::map<std::string, std::string> CustomerWithEverything(ArchiveFixture& f) {
  std::map<std::string, std::string> ids;
  const std::string c = f.Add("customers", R"({"name":"赵敏","phones":["13800138000"]})");
  ids["customers"] = c;
  ids["family_members"] = f.Add("family_members", R"({"relation":"spouse","name":"张无忌"})", c);
  ids["consents"] = f.Add(
      "consents", R"({"purpose":"marketing","granted":true,"channel":"paper","recorded_at":"2025-03-01T10:00:00Z"})", c);
  ids["policies"] = f.Add("policies",
                          R"({"policy_number":"P-1","product":"安心重疾","effective_date":"2025-01-01",
                              "premium":500000,"payment_frequency":"annual","is_group":true,
                              "members":[{"name":"员工甲","employee_no":"E1"}]})",
                          c);
  ids["claims"] = f.Add("claims", R"({"policy_id":")" + ids["policies"] +
                                      R"(","claim_date":"2025-06-01","type":"medical","amount":120000,"status":"reported"})");
  ids["visits"] = f.Add("visits", R"({"channel":"visit","purpose":"service","outcome":"签了保单"})", c);
  ids["tasks"] = f.Add("tasks", R"({"title":"回访","due_date":"2025-07-01","customer_id":")" + c + R"("})");
  ids["classification_overrides"] =
      f.Add("classification_overrides", R"({"field":"value_tier","value":"high"})", c);
  ids["lifecycle_events"] = f.Add("lifecycle_events", R"({"to_stage":"first_deal","reason":"manual"})", c);
  // Relationships and service quality.
  ids["relationship_cards"] = f.Add("relationship_cards", R"({"level":"key","strength":4})", c);
  ids["relationship_logs"] = f.Add("relationship_logs", R"({"kind":"greeting","occurred_on":"2025-02-10"})", c);
  ids["relationship_evaluations"] =
      f.Add("relationship_evaluations", R"({"period":"2025-Q1","scores":{"trust":4}})", c);
  ids["investment_holdings"] = f.Add("investment_holdings", R"({"product":"稳健投连","purchase_date":"2025-01-05",
      "amount":1000000,"risk_preference":"balanced"})", c);
  const std::string event = f.Add("events", R"({"title":"客户答谢会","kind":"appreciation_day","event_date":"2025-05-01"})");
  ids["event_invitations"] = f.Add("event_invitations", R"({"event_id":")" + event + R"("})", c);
  ids["complaints"] = f.Add("complaints", R"({"channel":"phone","category":"claim","severity":"high",
      "received_at":"2025-06-02T02:00:00Z"})", c);
  ids["complaint_steps"] = f.Add("complaint_steps", R"({"complaint_id":")" + ids["complaints"] +
                                                       R"(","action":"acknowledged"})");
  const std::string survey = f.Add("survey_templates", R"({"name":"回访满意度","questions":[{"key":"q1","text":"态度"}]})");
  ids["survey_responses"] = f.Add("survey_responses", R"({"template_id":")" + survey + R"(","answers":{"q1":5}})", c);
  ids["claim_assists"] = f.Add("claim_assists", R"({"claim_id":")" + ids["claims"] +
                                                   R"(","step":"documents_listed","due_date":"2025-06-08"})");
  return ids;
}

std::vector<std::string> Search(ArchiveFixture& f, const std::string& text) {
  ListQuery q;
  q.search = text;
  auto names = Strings(f.List(q), "name");
  std::sort(names.begin(), names.end());
  return names;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("a profile belongs to one agent", "[archive]") {
  testing::TempDir dir;
  auto store = Store::Open(dir.File("p.db"));
  REQUIRE(store.ok());
  CHECK(Archive::LoadProfile(**store).status().code() == ErrorCode::kNotInitialized);
  Archive archive(**store);
  CHECK(archive.Add("customers", R"({"name":"a"})").status().code() == ErrorCode::kNotInitialized);
  Status empty = Archive::Init(**store, "", "");
  CHECK(empty.code() == ErrorCode::kInvalidArgument);
  CHECK(empty.field() == "agent");
  REQUIRE(Archive::Init(**store, "agent-1", "team-a").ok());
  REQUIRE(Archive::Init(**store, "agent-1", "team-a").ok());  // idempotent
  Status other = Archive::Init(**store, "agent-2", "");
  CHECK(other.code() == ErrorCode::kAlreadyInitialized);
  CHECK(other.message().find("agent-1") != std::string::npos);
  auto profile = Archive::LoadProfile(**store);
  REQUIRE(profile.ok());
  CHECK(profile->agent == "agent-1");
  CHECK(profile->team == "team-a");
}

TEST_CASE("every archive table can be added, shown, listed, updated and deleted", "[archive]") {
  ArchiveFixture f;
  const auto ids = CustomerWithEverything(f);
  const std::string customer = ids.at("customers");
  // The policy brought its policyholder role and its roster along.
  auto roles = f.List(Rows("policy_roles", customer));
  REQUIRE(roles.Size() == 1);
  CHECK(Text(roles[0], "role") == "policyholder");
  CHECK(Text(roles[0], "party_name") == "赵敏");
  CHECK(Text(roles[0], "party_id") == customer);
  REQUIRE(f.List(Rows("group_members", customer)).Size() == 1);
  auto extra_role = f.Add("policy_roles", R"({"policy_id":")" + ids.at("policies") +
                                              R"(","role":"beneficiary","party_type":"other","party_name":"周芷若","share_percent":100})");

  std::map<std::string, std::string> all = ids;
  all["policy_roles"] = extra_role;
  all["group_members"] = Text(f.List(Rows("group_members", customer))[0], "id");
  const std::map<std::string, std::pair<std::string, std::string>> edits = {
      {"customers", {R"({"occupation":"教师"})", "occupation"}},
      {"family_members", {R"({"occupation":"医生"})", "occupation"}},
      {"consents", {R"({"wording":"同意接收营销信息"})", "wording"}},
      {"policies", {R"({"insurer":"平安"})", "insurer"}},
      {"policy_roles", {R"({"party_name":"周姑娘"})", "party_name"}},
      {"group_members", {R"({"employee_no":"E2"})", "employee_no"}},
      {"claims", {R"({"status":"paid"})", "status"}},
      {"visits", {R"({"outcome":"续保"})", "outcome"}},
      {"tasks", {R"({"title":"电话回访"})", "title"}},
      {"classification_overrides", {R"({"value":"potential"})", "value"}},
      {"lifecycle_events", {R"({"note":"转介绍"})", "note"}},
      {"relationship_cards", {R"({"level":"general"})", "level"}},
      {"relationship_logs", {R"({"summary":"春节问候"})", "summary"}},
      {"relationship_evaluations", {R"({"period":"2025-Q2"})", "period"}},
      {"investment_holdings", {R"({"product":"进取投连"})", "product"}},
      {"event_invitations", {R"({"status":"accepted"})", "status"}},
      {"complaints", {R"({"handler":"agent-8"})", "handler"}},
      {"complaint_steps", {R"({"note":"已致电"})", "note"}},
      {"survey_responses", {R"({"comment":"很好"})", "comment"}},
      {"claim_assists", {R"({"done_on":"2025-06-07"})", "done_on"}},
  };
  // Every table of the customer archive (the tables with rows under a customer).
  size_t archive_tables = 0;
  for (const auto& t : ArchiveRegistry().tables()) archive_tables += t.IndexOf("customer_id") >= 0 || t.name == "customers";
  REQUIRE(edits.size() == archive_tables);
  for (const auto& [table, id] : all) {
    INFO(table);
    CHECK(Text(f.Show(table, id), "id") == id);
    const auto listed = Strings(f.List(table == "customers" ? Rows(table) : Rows(table, customer)), "id");
    CHECK(std::find(listed.begin(), listed.end(), id) != listed.end());
    const auto& [patch, column] = edits.at(table);
    REQUIRE(f.archive->Set(table, id, patch).ok());
    auto parsed = ParseJsonObject(patch, "patch");
    CHECK(Text(f.Show(table, id), column.c_str()) == (*parsed)[column.c_str()].GetString());
  }
  // Children first, then the customer: each delete removes exactly one row.
  for (const auto& [table, id] : all) {
    if (table == "customers" || table == "policies") continue;
    INFO(table);
    REQUIRE(f.archive->Remove(table, id).ok());
    CHECK(f.archive->Show(table, id).status().code() == ErrorCode::kNotFound);
    CHECK(f.archive->Remove(table, id).code() == ErrorCode::kNotFound);
  }
  REQUIRE(f.archive->Remove("policies", all.at("policies")).ok());
  REQUIRE(f.archive->Remove("customers", customer).ok());
  CHECK(f.Count("SELECT count(*) FROM customers") == 0);
}

TEST_CASE("unknown tables, ids that change and missing rows are refused", "[archive]") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"a"})");
  CHECK(f.archive->Add("agents", R"({"name":"a"})").status().code() == ErrorCode::kInvalidArgument);
  Status s = f.archive->Set("customers", c, R"({"id":"0190a5c4-1111-7222-8333-444455556666","name":"b"})");
  CHECK(s.code() == ErrorCode::kReadOnlyField);
  CHECK(s.field() == "id");
  CHECK(f.archive->Set("customers", c, R"({"id":")" + c + R"(","name":"b"})").ok());
  CHECK(f.archive->Set("customers", "0190a5c4-1111-7222-8333-444455556666", R"({"name":"b"})").code() ==
        ErrorCode::kNotFound);
  CHECK(f.archive->Show("customers", "nope").status().code() == ErrorCode::kNotFound);
  CHECK(f.archive->Set("customers", c, "[1]").code() == ErrorCode::kInvalidJson);
  CHECK(f.archive->Add("customers", R"({"name":"a",})").status().code() == ErrorCode::kInvalidJson);
}

TEST_CASE("a failed add leaves nothing behind, not even part of a policy", "[archive]") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"a"})");
  auto policy = f.archive->Add("policies",
                               R"({"policy_number":"P","product":"x","effective_date":"2025-01-01","premium":1,
                                   "payment_frequency":"annual","roles":[{"role":"insured","party_type":"other",
                                   "party_name":"b"},{"role":"owner"}]})",
                               c);
  CHECK(policy.status().field() == "roles[1].role");
  CHECK(f.Count("SELECT count(*) FROM policies") == 0);
  CHECK(f.Count("SELECT count(*) FROM policy_roles") == 0);
}

TEST_CASE("CJK and emoji survive add, show, list and export byte for byte", "[archive][unicode]") {
  ArchiveFixture f;
  const std::string name = "司马懿😀";
  const std::string notes = "喜欢喝🍵，全家👨‍👩‍👧‍👦去过𠀀𪚥村；\"引号\" \\ 反斜杠\n第二行";
  const std::string street = "北京市海淀区中关村大街１号";  // full-width digit
  rapidjson::Document in(rapidjson::kObjectType);
  auto& a = in.GetAllocator();
  in.AddMember("name", rapidjson::Value(name.c_str(), a), a);
  in.AddMember("notes", rapidjson::Value(notes.c_str(), a), a);
  in.AddMember("street", rapidjson::Value(street.c_str(), a), a);
  const std::string id = f.Add("customers", ToJson(in));

  auto shown = f.archive->Show("customers", id);
  REQUIRE(shown.ok());
  CHECK(shown->find(name) != std::string::npos);  // raw UTF-8, not \u escapes
  auto doc = f.Show("customers", id);
  CHECK(Text(doc, "name") == name);
  CHECK(Text(doc, "notes") == notes);
  CHECK(Text(doc, "street") == street);
  CHECK(Strings(f.List(ListQuery()), "name") == std::vector<std::string>{name});

  auto exported = ExportJson(*f.store, {ArchiveRegistry().Find("customers")});
  REQUIRE(exported.ok());
  auto ex = ParseJsonObject(*exported, "export");
  REQUIRE(ex.ok());
  CHECK(Text((*ex)["customers"][0], "notes") == notes);
  CHECK(exported->find(street) != std::string::npos);
}

TEST_CASE("search finds substrings of name, phone and notes in any script", "[archive][search]") {
  ArchiveFixture f;
  f.Add("customers", R"({"name":"王小明","phones":["13800138000"],"notes":"喜欢打高尔夫，周末有空"})");
  f.Add("customers", R"({"name":"李小红","phones":["13912345678"],"notes":"code 50%_off; dir C:\\fb"})");
  f.Add("customers", R"({"name":"张伟","phones":["010-62345678"],"notes":"code 50xyoff, nothing special"})");
  f.Add("customers", R"({"name":"Anna Weber","notes":"prefers GOLF in the evening 😀"})");

  SECTION("Chinese substrings of two and of three or more characters") {
    CHECK(Search(f, "小明") == Names{"王小明"});
    CHECK(Search(f, "王小明") == Names{"王小明"});
    CHECK(Search(f, "高尔夫") == Names{"王小明"});
    CHECK(Search(f, "打高尔夫，周末") == Names{"王小明"});
    CHECK(Search(f, "小") == Names{"李小红", "王小明"});
    CHECK(Search(f, "尔夫球").empty());
  }
  SECTION("phone number substrings") {
    CHECK(Search(f, "0013800") == Names{"王小明"});
    CHECK(Search(f, "1234") == Names{"李小红"});
    CHECK(Search(f, "62345678") == Names{"张伟"});
    CHECK(Search(f, "138").size() == 1);
  }
  SECTION("notes substrings, ASCII case-insensitive, emoji") {
    CHECK(Search(f, "golf") == Names{"Anna Weber"});
    CHECK(Search(f, "Nothing Spec") == Names{"张伟"});
    CHECK(Search(f, "😀") == Names{"Anna Weber"});
    CHECK(Search(f, "evening 😀") == Names{"Anna Weber"});
    CHECK(Search(f, "weber") == Names{"Anna Weber"});
  }
  SECTION("LIKE metacharacters in the query are literal") {
    CHECK(Search(f, "50%_off") == Names{"李小红"});
    CHECK(Search(f, "%") == Names{"李小红"});
    CHECK(Search(f, "_") == Names{"李小红"});
    CHECK(Search(f, "%_") == Names{"李小红"});
    CHECK(Search(f, "C:\\fb") == Names{"李小红"});
    CHECK(Search(f, "\\") == Names{"李小红"});
    CHECK(Search(f, "50__off").empty());
  }
  SECTION("the index follows updates and deletes") {
    auto all = f.List(ListQuery());
    const std::string id = Text(all[0], "id");
    REQUIRE(f.archive->Set("customers", id, R"({"notes":"now into tennis","phones":["13700001111"]})").ok());
    CHECK(Search(f, "golf").empty());
    CHECK(Search(f, "tennis") == Names{"Anna Weber"});
    CHECK(Search(f, "7000011") == Names{"Anna Weber"});
    REQUIRE(f.archive->Remove("customers", id).ok());
    CHECK(Search(f, "tennis").empty());
    CHECK(f.store->Exec("INSERT INTO fb_customer_fts(fb_customer_fts) VALUES('integrity-check')").ok());
  }
  SECTION("search composes with filters and paging") {
    ListQuery q;
    q.search = "code";
    q.equals.emplace_back("name", Value{std::string("张伟")});
    CHECK(Strings(f.List(q), "name") == Names{"张伟"});
    q.equals.clear();
    q.limit = 1;
    CHECK(f.List(q).Size() == 1);
    q.offset = 1;
    CHECK(f.List(q).Size() == 1);
    q.offset = 2;
    CHECK(f.List(q).Size() == 0);
  }
  SECTION("search applies to customers only") {
    ListQuery q = Rows("tasks");
    q.search = "x";
    CHECK(f.archive->List(q).status().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("the full-text index catches up at the next search, whatever was written meanwhile",
          "[archive][search]") {
  ArchiveFixture f;
  auto stale = [&] { return f.Count("SELECT count(*) FROM fb_customer_fts_stale"); };
  auto intact = [&] {
    // rank 1: the index is also compared with the customers table it indexes.
    return f.store->Exec("INSERT INTO fb_customer_fts(fb_customer_fts, rank) VALUES ('integrity-check', 1)").ok();
  };
  const std::string a = f.Add("customers", R"({"kind":"person","name":"Anna","notes":"likes golf"})");
  const std::string c = f.Add("customers", R"({"kind":"person","name":"Carl","notes":"sails boats"})");
  CHECK(stale() == 2);  // writes only mark customers stale
  CHECK(Search(f, "golf") == Names{"Anna"});
  CHECK(stale() == 0);
  CHECK(intact());
  // Meanwhile: an indexed customer changes and another is deleted; a new one is added,
  // changed and one more is added and deleted before any search.
  REQUIRE(f.archive->Set("customers", a, R"({"notes":"now into tennis"})").ok());
  REQUIRE(f.archive->Remove("customers", c).ok());
  const std::string b = f.Add("customers", R"({"kind":"person","name":"Bert","notes":"collects stamps"})");
  REQUIRE(f.archive->Set("customers", b, R"({"notes":"collects coins"})").ok());
  const std::string d = f.Add("customers", R"({"kind":"person","name":"Dora","notes":"rides horses"})");
  REQUIRE(f.archive->Remove("customers", d).ok());
  CHECK(stale() == 2);
  CHECK(Search(f, "golf").empty());
  CHECK(Search(f, "tennis") == Names{"Anna"});
  CHECK(Search(f, "boats").empty());
  CHECK(Search(f, "stamps").empty());
  CHECK(Search(f, "coins") == Names{"Bert"});
  CHECK(Search(f, "horses").empty());
  CHECK(stale() == 0);
  CHECK(intact());
  // Raw SQL writes are followed the same way.
  REQUIRE(f.store->Exec("UPDATE customers SET name = 'Berta' WHERE id = '" + b + "'").ok());
  CHECK(Search(f, "Berta") == Names{"Berta"});
  CHECK(intact());
  // A read-only connection cannot index: it finds the customers not indexed yet all the
  // same, and leaves them for a writer. (Texts that are not pinyin: pinyin keys of stale
  // names need a writer too.)
  f.Add("customers", R"({"kind":"person","name":"Emil","notes":"喜欢下围棋"})");
  StoreOptions options;
  options.read_only = true;
  auto reader = Store::Open(f.path, options);
  REQUIRE(reader.ok());
  Archive read_only(**reader);
  ListQuery q;
  q.search = "下围棋";
  auto found = read_only.List(q);
  INFO(found.status().ToString());
  REQUIRE(found.ok());
  CHECK(found->find("Emil") != std::string::npos);
  CHECK(stale() == 1);
  CHECK(Search(f, "下围棋") == Names{"Emil"});  // the writer indexes it
  CHECK(stale() == 0);
  CHECK(intact());
}

TEST_CASE("a profile from schema 3 keeps its full-text index and defers it from then on", "[archive][search]") {
  testing::TempDir dir;
  const std::string path = dir.File("old.db");
  std::string anna;
  {
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    REQUIRE(Archive::Init(**store, "agent-7", "team-3").ok());
    // Schema 3 indexed every write at once.
    REQUIRE((*store)->Exec(
        "DROP TRIGGER fb_customer_fts_ai; DROP TRIGGER fb_customer_fts_ad; DROP TRIGGER fb_customer_fts_au; "
        "DROP TABLE fb_customer_fts_stale; "
        "CREATE TRIGGER fb_customer_fts_ai AFTER INSERT ON customers BEGIN "
        "INSERT INTO fb_customer_fts(rowid, name, phones, notes) VALUES (new.rowid, new.name, new.phones, new.notes); END; "
        "CREATE TRIGGER fb_customer_fts_au AFTER UPDATE OF name, phones, notes ON customers BEGIN "
        "INSERT INTO fb_customer_fts(fb_customer_fts, rowid, name, phones, notes) "
        "VALUES ('delete', old.rowid, old.name, old.phones, old.notes); "
        "INSERT INTO fb_customer_fts(rowid, name, phones, notes) VALUES (new.rowid, new.name, new.phones, new.notes); END; "
        "PRAGMA user_version=3").ok());
    Archive archive(**store);
    auto id = archive.Add("customers", R"({"kind":"person","name":"Anna","notes":"likes golf"})");
    REQUIRE(id.ok());
    anna = *id;
  }
  auto store = Store::Open(path);
  REQUIRE(store.ok());
  Archive archive(**store);
  auto search = [&](const std::string& text) {
    ListQuery q;
    q.search = text;
    auto json = archive.List(q);
    REQUIRE(json.ok());
    return *json;
  };
  CHECK(search("golf").find("Anna") != std::string::npos);
  REQUIRE(archive.Set("customers", anna, R"({"notes":"now into tennis"})").ok());
  CHECK(search("golf").find("Anna") == std::string::npos);
  CHECK(search("tennis").find("Anna") != std::string::npos);
  CHECK((*store)->Exec("INSERT INTO fb_customer_fts(fb_customer_fts, rank) VALUES ('integrity-check', 1)").ok());
}

TEST_CASE("deleting a customer deletes every row of its archive", "[archive]") {
  ArchiveFixture f;
  const auto ids = CustomerWithEverything(f);
  const auto other = CustomerWithEverything(f);
  const std::string c = ids.at("customers");
  REQUIRE(f.archive->Remove("customers", c).ok());
  for (const auto& t : ArchiveRegistry().tables()) {
    if (t.name == "customers" || t.name == "tasks" || t.IndexOf("customer_id") < 0) continue;
    INFO(t.name);
    CHECK(f.Count("SELECT count(*) FROM " + QuoteIdent(t.name) + " WHERE customer_id = '" + c + "'") == 0);
    CHECK(f.Count("SELECT count(*) FROM " + QuoteIdent(t.name) + " WHERE customer_id = '" + other.at("customers") +
                  "'") >= 1);
  }
  CHECK(f.Count("SELECT count(*) FROM customers") == 1);
  // A task only points at its customer (it may outlive it, e.g. a reassigned customer).
  CHECK(f.archive->Show("tasks", ids.at("tasks")).ok());
  auto check = f.store->Prepare("PRAGMA foreign_key_check");
  REQUIRE(check.ok());
  CHECK_FALSE(*check->Step());
}

TEST_CASE("a customer's archive groups its rows by table", "[archive]") {
  ArchiveFixture f;
  const auto ids = CustomerWithEverything(f);
  auto json = f.archive->CustomerArchive(ids.at("customers"));
  REQUIRE(json.ok());
  auto doc = ParseJsonObject(*json, "archive");
  REQUIRE(doc.ok());
  CHECK(Text((*doc)["customer"], "id") == ids.at("customers"));
  CHECK((*doc)["family_members"].Size() == 1);
  CHECK((*doc)["policies"].Size() == 1);
  CHECK((*doc)["policy_roles"].Size() == 1);
  CHECK((*doc)["group_members"].Size() == 1);
  CHECK((*doc)["claims"].Size() == 1);
  CHECK((*doc)["consents"].Size() == 1);
  CHECK((*doc)["visits"].Size() == 1);
  CHECK((*doc)["tasks"].Size() == 1);  // linked by customer_id, though not owned
  CHECK(f.archive->CustomerArchive("0190a5c4-1111-7222-8333-444455556666").status().code() == ErrorCode::kNotFound);
}

TEST_CASE("tasks are completed once and listed by due date", "[archive]") {
  ArchiveFixture f;
  const std::string late = f.Add("tasks", R"({"title":"b","due_date":"2025-03-02"})");
  const std::string early = f.Add("tasks", R"({"title":"a","due_date":"2025-03-01","priority":"high"})");
  auto task = f.Show("tasks", early);
  CHECK_FALSE(task["done"].GetBool());
  CHECK(task["done_at"].IsNull());
  CHECK(Text(task, "owner_agent") == "agent-7");
  CHECK(Text(task, "kind") == "follow_up");
  f.env.Advance(60000);
  REQUIRE(f.archive->CompleteTask(early).ok());
  task = f.Show("tasks", early);
  CHECK(task["done"].GetBool());
  CHECK(task["done_at"].GetInt64() == f.env.NowMs());
  CHECK(f.archive->CompleteTask("0190a5c4-1111-7222-8333-444455556666").code() == ErrorCode::kNotFound);

  ListQuery q = Rows("tasks");
  CHECK(Strings(f.List(q), "id") == std::vector<std::string>{early, late});
  q.equals.emplace_back("done", Value{int64_t{0}});
  CHECK(Strings(f.List(q), "id") == std::vector<std::string>{late});
  q.equals.clear();
  q.due_before = "2025-03-01";
  CHECK(Strings(f.List(q), "id") == std::vector<std::string>{early});
  q.due_before = "2025-3-1";
  CHECK(f.archive->List(q).status().field() == "due");
  // Re-opening a task clears its completion time.
  REQUIRE(f.archive->Set("tasks", early, R"({"done":false})").ok());
  CHECK(f.Show("tasks", early)["done_at"].IsNull());
}

TEST_CASE("export is canonical: same rows give the same bytes whatever the insert order", "[archive][export]") {
  const std::string c1 = "0190a5c4-0000-7000-8000-000000000001";
  const std::string c2 = "0190a5c4-0000-7000-8000-000000000002";
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"customers", R"({"id":")" + c2 + R"(","name":"乙","phones":["13800138000","010-62345678"],"interests":["b","a"]})"},
      {"customers", R"({"id":")" + c1 + R"(","name":"甲","notes":"😀","annual_income":100})"},
      {"family_members",
       R"({"id":"0190a5c4-0000-7000-8000-000000000010","customer_id":")" + c1 + R"(","relation":"child","name":"小甲"})"},
      {"family_members",
       R"({"id":"0190a5c4-0000-7000-8000-000000000009","customer_id":")" + c2 + R"(","relation":"parent","name":"老乙"})"},
      {"tasks", R"({"id":"0190a5c4-0000-7000-8000-000000000020","title":"t","due_date":"2025-01-01"})"},
  };
  ArchiveFixture forward;
  ArchiveFixture backward;
  for (const auto& [table, json] : rows) forward.Add(table, json);
  for (size_t i = 0; i < rows.size(); ++i) {
    // Parents before children; otherwise reversed.
    const auto& [table, json] = rows[i < 2 ? 1 - i : rows.size() + 1 - i];
    backward.Add(table, json);
  }
  std::vector<const TableSpec*> tables;
  for (const auto& t : ArchiveRegistry().tables()) tables.push_back(&t);
  std::reverse(tables.begin(), tables.end());  // the caller's order does not matter
  auto a = ExportJson(*forward.store, tables);
  auto b = ExportJson(*backward.store, tables);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);

  auto doc = ParseJsonObject(*a, "export");
  REQUIRE(doc.ok());
  CHECK(*a == ToCanonicalJson(*doc));  // keys sorted at every level
  std::string previous_table;
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
    CHECK(previous_table < it->name.GetString());
    previous_table = it->name.GetString();
    auto ids = Strings(it->value, "id");
    CHECK(std::is_sorted(ids.begin(), ids.end()));
  }
  CHECK(doc->MemberCount() == ArchiveRegistry().tables().size() - 1);  // all but the access audit
  CHECK_FALSE(doc->HasMember("access_audit"));
  CHECK(Strings((*doc)["customers"], "id") == std::vector<std::string>{c1, c2});
  CHECK(a->find(R"("interests":["b","a"])") != std::string::npos);  // arrays keep their order
}
