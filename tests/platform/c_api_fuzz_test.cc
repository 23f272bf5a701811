// Every method of fieldbook_db_call fed random and mutated arguments, seeded and
// repeatable: a call either succeeds with JSON, or fails with a code and a message and
// changes nothing (each call is one transaction). Arguments are built from the fields the
// domain uses, the ids of rows that exist, and values that are wrong in every way a
// caller can get them wrong (types, ranges, dates that do not exist, huge numbers and
// strings, nesting, broken UTF-8), and some are then mutated byte by byte.
// FIELDBOOK_FUZZ_ITERATIONS=N and FIELDBOOK_FUZZ_SEED=S as in the protocol's fuzz test.
#include <random>
#include <string>
#include <vector>

#include "c_api_fixture.h"
#include "support/test_support.h"

using namespace fieldbook::testing;

namespace {

struct Call {
  bool ok = false;
  std::string json;
  Error error;
};

Call Invoke(fieldbook_db* db, const std::string& method, const std::string& args) {
  Call c;
  char* out = nullptr;
  c.ok = fieldbook_db_call(db, method.c_str(), args.c_str(), &out, &c.error);
  if (out != nullptr) {
    c.json = out;
    fieldbook_free(out);
  }
  return c;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

class ArgsMaker {
 public:
  explicit ArgsMaker(uint64_t seed) : rng_(seed) {}
  size_t Below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }
  template <size_t N>
  const char* Pick(const char* const (&a)[N]) { return a[Below(N)]; }

  std::string Value(const std::vector<std::string>& ids, int depth = 0) {
    static const char* const kValues[] = {
        "null", "true", "false", "0", "-1", "1", "2.5", "1e308", "-1e308", "9223372036854775807",
        "-9223372036854775808", "18446744073709551615", "\"\"", "\" \"", "\"张三\"", "\"zs\"", "\"13800138000\"",
        "\"2026-02-29\"", "\"2024-02-29\"", "\"2026-13-01\"", "\"0000-00-00\"", "\"9999-12-31\"", "\"1900-01-01\"",
        "\"2026-12-04T10:00:00Z\"", "\"high\"", "\"potential\"", "\"general\"", "\"low\"", "\"family\"", "\"sme\"",
        "\"lead\"", "\"first_deal\"", "\"left\"", "\"visit\"", "\"phone\"", "\"marketing\"", "\"grant\"",
        "\"withdraw\"", "\"winner\"", "\"loser\"", "\"quarterly\"", "\"monthly\"", "\"annual\"", "\"critical\"",
        "\"\\u0000\"", "\"\\ud800\"", "\"\xff\xfe\"", "\"../../../etc/passwd\"", "\"/dev/zero\"", "\"%s%n\"",
        "\"'; DROP TABLE customers; --\"", "[]", "{}", "[null]", "[\"13800138000\",\"13800138000\"]"};
    const size_t roll = Below(10);
    if (roll == 0 && !ids.empty()) return Quoted(ids[Below(ids.size())]);
    if (roll == 1) return Quoted(std::string(1 + Below(3) * 40000, "x张"[Below(2)]));
    if (roll == 2 && depth < 3) {
      std::string a = "[";
      for (size_t i = 0, n = Below(4); i < n; ++i) a += (i ? "," : "") + Value(ids, depth + 1);
      return a + "]";
    }
    if (roll == 3 && depth < 3) return Object(ids, depth + 1, 1 + Below(3));
    return Pick(kValues);
  }

  std::string Object(const std::vector<std::string>& ids, int depth, size_t members) {
    static const char* const kKeys[] = {
        "id", "customer_id", "policy_id", "complaint_id", "template_id", "event_id", "name", "phones", "gender",
        "birth_date", "lunar_birthday", "notes", "occupation", "employer", "value_tier", "needs_segment", "region",
        "policy_number", "product", "effective_date", "premium", "payment_frequency", "status", "channel",
        "outcome", "due_date", "title", "done", "severity", "category", "keep", "value", "agent", "team", "role",
        "jsonl", "date", "from", "to", "limit", "offset", "where", "search", "all", "purpose", "granted", "kind",
        "strength", "score", "scores", "amount", "stage", "reason", "period", "name_of_report", "report", "path",
        "relation", "members", "roles", "answers", "quota", "prospects", "visits", "calls", "thresholds", "week",
        "month", "day", "summary", "owner_agent", "deleted", "hlc", "site", "rowid", "__proto__", "", "名字"};
    std::string o = "{";
    for (size_t i = 0; i < members; ++i) {
      o += (i ? "," : "") + Quoted(Pick(kKeys)) + ":" + Value(ids, depth);
    }
    return o + "}";
  }

  std::string Mutate(std::string s) {
    for (int i = 0, n = 1 + static_cast<int>(Below(3)); i < n && !s.empty(); ++i) {
      const size_t at = Below(s.size());
      switch (Below(4)) {
        case 0: s[at] = "{}[]\":,\\0-e. \x01\xc3"[Below(15)]; break;
        case 1: s.erase(at, 1 + Below(8)); break;
        case 2: s.insert(at, s.substr(Below(s.size()), 1 + Below(16))); break;
        default: s.resize(at); break;
      }
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

// Arguments that succeed as they are ("$C": a customer's id): perturbed one member at a
// time they reach validation deep inside writes (a policy's second role, the tenth line
// of an import), where a half-applied write would show.
struct Template {
  const char* method;
  std::vector<std::pair<std::string, std::string>> members;  // key, JSON value
};

const std::vector<Template>& Templates() {
  static const std::vector<Template> kTemplates = {
      {"customer.add", {{"name", "\"李四\""}, {"phones", "[\"13900139000\"]"}, {"birth_date", "\"1985-06-01\""},
                        {"notes", "\"喜欢钓鱼\""}, {"value_tier", "\"potential\""}}},
      {"customer.set", {{"id", "\"$C\""}, {"value_tier", "\"high\""}, {"notes", "\"改\""}, {"occupation", "\"教师\""}}},
      {"customer.import", {{"jsonl", "\"{\\\"name\\\":\\\"甲\\\"}\\n{\\\"name\\\":\\\"乙\\\",\\\"phones\\\":[\\\"13800000009\\\"]}\\n\""}}},
      {"policy.add", {{"customer_id", "\"$C\""}, {"policy_number", "\"P-7\""}, {"product", "\"寿险\""},
                      {"effective_date", "\"2024-02-29\""}, {"premium", "100000"}, {"payment_frequency", "\"annual\""},
                      {"roles", "[{\"role\":\"insured\",\"party_type\":\"customer\",\"party_id\":\"$C\",\"party_name\":\"甲\"},"
                                "{\"role\":\"beneficiary\",\"party_type\":\"other\",\"party_name\":\"乙\"}]"}}},
      {"policy.add", {{"customer_id", "\"$C\""}, {"policy_number", "\"G-1\""}, {"product", "\"团险\""},
                      {"effective_date", "\"2025-01-01\""}, {"premium", "5000"}, {"payment_frequency", "\"monthly\""},
                      {"members", "[{\"name\":\"员工甲\",\"relation\":\"employee\"},{\"name\":\"员工乙\",\"relation\":\"spouse\"}]"}}},
      {"family.add", {{"customer_id", "\"$C\""}, {"relation", "\"spouse\""}, {"name", "\"赵六\""}, {"birth_date", "\"1986-02-28\""}}},
      {"visit.add", {{"customer_id", "\"$C\""}, {"visited_at", "\"2026-05-01T10:00:00Z\""}, {"channel", "\"visit\""}}},
      {"task.add", {{"customer_id", "\"$C\""}, {"title", "\"续保提醒\""}, {"due_date", "\"2026-06-01\""}}},
      {"consent.add", {{"customer_id", "\"$C\""}, {"purpose", "\"marketing\""}, {"granted", "true"}, {"channel", "\"app\""},
                       {"recorded_at", "1"}}},
      {"complaint.add", {{"customer_id", "\"$C\""}, {"channel", "\"phone\""}, {"category", "\"claim\""},
                         {"severity", "\"high\""}, {"received_at", "\"2026-11-20T15:00:00+08:00\""}}},
      {"classify.set", {{"customer_id", "\"$C\""}, {"needs_segment", "\"family\""}, {"reason", "\"两个孩子\""}}},
      {"lifecycle.move", {{"customer_id", "\"$C\""}, {"stage", "\"mature\""}, {"reason", "\"手动\""}}},
      {"relation.card.set", {{"customer_id", "\"$C\""}, {"level", "\"key\""}, {"strength", "3"}}},
      {"relation.eval.add", {{"customer_id", "\"$C\""}, {"period", "\"2026-Q4\""}, {"scores", "{\"trust\":5}"},
                             {"status", "\"submitted\""}}},
      {"quota.set", {{"visits_per_day", "2"}, {"calls_per_day", "8"}}},
      {"operation.config.set", {{"grace_days", "45"}, {"strategies", "{\"tiers\":{\"low\":{\"revisit_days\":120}}}"}}},
      {"holiday.add", {{"date", "\"2026-10-01\""}, {"kind", "\"holiday\""}, {"name", "\"国庆节\""}}},
      {"customer.delete", {{"id", "\"$C\""}}},
      {"calendar.range", {{"from", "\"2026-09-01\""}, {"to", "\"2026-09-30\""}}},
      {"kanban", {{"period", "\"week\""}, {"date", "\"2026-03-04\""}}},
      {"report", {{"name", "\"rfm\""}, {"to", "\"2026-01-31\""}}},
  };
  return kTemplates;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Collects the string values of "id" members in a result, to aim later calls at them.
void CollectIds(const rapidjson::Value& v, std::vector<std::string>& ids) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (std::strcmp(it->name.GetString(), "id") == 0 && it->value.IsString() && ids.size() < 400) {
        ids.emplace_back(it->value.GetString(), it->value.GetStringLength());
      }
      CollectIds(it->value, ids);
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) CollectIds(e, ids);
  }
}

}  // namespace

TEST_CASE("c api fuzz: any arguments to any method give JSON or an error that changed nothing") {
  const uint64_t seed = EnvNumber("FIELDBOOK_FUZZ_SEED", 20261204);
  const int iterations = static_cast<int>(EnvNumber("FIELDBOOK_FUZZ_ITERATIONS", 1200));
  TempDir dir;
  Db db(dir.File("fuzz.db"));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(db.AddCustomer(R"({"name":"客户)" + std::to_string(i) + R"(","phones":["1380013800)" +
                                 std::to_string(i) + R"("],"birth_date":"1980-02-29"})"));
  }
  std::vector<std::string> customers = ids;
  auto methods_doc = Parse(db.Call("methods"));
  REQUIRE(methods_doc.IsArray());
  std::vector<std::string> methods;
  for (const auto& m : methods_doc.GetArray()) methods.emplace_back(m.GetString());
  REQUIRE(methods.size() > 50);

  ArgsMaker make(seed);
  std::string state = db.Call("export");
  int succeeded = 0, failed = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string method = methods[make.Below(methods.size())];
    std::string args;
    if (make.Chance(60)) {
      // A template, perturbed in one place (or not at all).
      const Template& t = Templates()[make.Below(Templates().size())];
      method = t.method;
      auto members = t.members;
      const size_t roll = make.Below(10);
      if (roll < 4) members[make.Below(members.size())].second = make.Value(ids);
      else if (roll < 6) members.emplace_back(make.Object(ids, 0, 1).substr(1), "");
      else if (roll < 7) members.erase(members.begin() + static_cast<std::ptrdiff_t>(make.Below(members.size())));
      args = "{";
      for (size_t k = 0; k < members.size(); ++k) {
        args += (k ? "," : "");
        // A member taken from a random object is already "key":value with its closing brace.
        args += members[k].second.empty() ? members[k].first.substr(0, members[k].first.size() - 1)
                                          : Quoted(members[k].first) + ":" + members[k].second;
      }
      args += "}";
      args = Replace(args, "$C", customers[make.Below(customers.size())]);
      if (roll == 7) args = make.Mutate(args);
    } else {
      args = make.Object(ids, 0, make.Below(5));
      if (make.Chance(15)) args = make.Mutate(args);
    }
    if (method == "blob.put" || method == "blob.get") continue;  // files of the machine; covered by their own tests
    INFO("seed " << seed << " iteration " << i << ": " << method << " " << args.substr(0, 500));
    Call c = Invoke(db.get(), method, args);
    if (c.ok) {
      ++succeeded;
      rapidjson::Document doc;
      doc.Parse(c.json.c_str(), c.json.size());
      INFO("result " << c.json.substr(0, 300));
      REQUIRE_FALSE(doc.HasParseError());
      CollectIds(doc, ids);
      if (method == "customer.add" && doc.IsObject() && doc.HasMember("id") && doc["id"].IsString()) {
        customers.emplace_back(doc["id"].GetString());
      }
      state = db.Call("export");
      continue;
    }
    ++failed;
    INFO("error " << c.error.code << " " << c.error.Message());
    CHECK(c.error.code != 0);
    CHECK_FALSE(c.error.Message().empty());
    CHECK(c.json.empty());
    const std::string after = db.Call("export");
    CHECK(after == state);
    state = after;
  }
  INFO("succeeded " << succeeded << ", failed " << failed);
  CHECK(succeeded > 0);
  CHECK(failed > 0);
}
