// Each archive rule refuses bad input with a Status whose field() names the culprit.
#include "archive_rules.h"

#include "archive_testutil.h"

using namespace fieldbook;
using fieldbook::testing::ArchiveFixture;
using fieldbook::testing::Text;

namespace {

// The refusal of adding `json` to `table`: code and field.
Status Refusal(ArchiveFixture& f, std::string_view table, const std::string& json, std::string_view customer = {}) {
  auto id = f.archive->Add(table, json, customer);
  INFO(json);
  REQUIRE_FALSE(id.ok());
  return id.status();
}

void ExpectRefused(ArchiveFixture& f, std::string_view table, const std::string& json, ErrorCode code,
                   const std::string& field, std::string_view customer = {}) {
  Status s = Refusal(f, table, json, customer);
  INFO(json << " -> " << s.ToString());
  CHECK(s.code() == code);
  CHECK(s.field() == field);
}

constexpr const char* kPolicy =
    R"("product":"安康","effective_date":"2025-01-01","premium":360000,"payment_frequency":"annual")";

}  // namespace

TEST_CASE("a resident ID must pass its checksum and agree with the birth date", "[rules]") {
  ArchiveFixture f;
  ExpectRefused(f, "customers", R"({"name":"a","id_number":"110101199003074478"})", ErrorCode::kInvalidField,
                "id_number");
  Status s = Refusal(f, "customers", R"({"name":"a","id_number":"110101199003074478"})");
  CHECK(s.message().find("checksum") != std::string::npos);
  ExpectRefused(f, "customers", R"({"name":"a","id_number":"110101199003074477","birth_date":"1990-03-08"})",
                ErrorCode::kInvalidField, "birth_date");
  ExpectRefused(f, "customers", R"({"name":"a","id_type":"resident_id","id_number":"11010119900307447"})",
                ErrorCode::kInvalidField, "id_number");
  ExpectRefused(f, "customers", R"({"name":"a","id_number":"E1234567"})", ErrorCode::kMissingField, "id_type");
  ExpectRefused(f, "customers", R"({"name":"a","id_type":"passport","id_number":"E12 34567"})",
                ErrorCode::kInvalidField, "id_number");
  ExpectRefused(f, "family_members", R"({"relation":"child","name":"b","id_number":"11010519491231002Y"})",
                ErrorCode::kInvalidField, "id_number", f.Add("customers", R"({"name":"parent"})"));

  // A good number fills birth date and gender, and a lower-case x is normalised.
  const std::string id = f.Add("customers", R"({"name":"a","id_number":"11010519491231002x"})");
  auto row = f.Show("customers", id);
  CHECK(Text(row, "id_number") == "11010519491231002X");
  CHECK(Text(row, "id_type") == "resident_id");
  CHECK(Text(row, "birth_date") == "1949-12-31");
  CHECK(Text(row, "gender") == "female");
  f.Add("customers", R"({"name":"b","id_type":"passport","id_number":"E12345678"})");
  // Changing the birth date later is checked against the stored number too.
  Status later = f.archive->Set("customers", id, R"({"birth_date":"1950-01-01"})");
  CHECK(later.code() == ErrorCode::kInvalidField);
  CHECK(later.field() == "birth_date");
}

TEST_CASE("company fields: credit code checked, and refused on a person", "[rules]") {
  ArchiveFixture f;
  ExpectRefused(f, "customers", R"({"name":"某公司","kind":"company","credit_code":"91350100M000100Y44"})",
                ErrorCode::kInvalidField, "credit_code");
  ExpectRefused(f, "customers", R"({"name":"某公司","kind":"company","credit_code":"91350100M000100Y4"})",
                ErrorCode::kInvalidField, "credit_code");
  for (const char* field : {R"("credit_code":"91350100M000100Y43")", R"("legal_rep":"王")", R"("industry":"制造")",
                            R"("staff_count":12)", R"("contacts":[{"name":"王"}])", R"("license_number":"L1")"}) {
    const std::string json = std::string(R"({"name":"张三",)") + field + "}";
    Status s = Refusal(f, "customers", json);
    CHECK(s.code() == ErrorCode::kInvalidField);
    CHECK(s.message().find("company customers only") != std::string::npos);
    CHECK(json.find("\"" + s.field() + "\"") != std::string::npos);
  }
  ExpectRefused(f, "customers", R"({"name":"某公司","kind":"company","contacts":[{"phone":"1"}]})",
                ErrorCode::kInvalidField, "contacts");
  const std::string company = f.Add(
      "customers",
      R"({"name":"某公司","kind":"company","credit_code":"91350100m000100y43","staff_count":12,"contacts":[{"name":"王"}]})");
  CHECK(Text(f.Show("customers", company), "credit_code") == "91350100M000100Y43");
}

TEST_CASE("a customer's kind is fixed at creation", "[rules]") {
  ArchiveFixture f;
  const std::string id = f.Add("customers", R"({"name":"张三"})");
  CHECK(Text(f.Show("customers", id), "kind") == "person");  // the default
  Status s = f.archive->Set("customers", id, R"({"kind":"company"})");
  CHECK(s.code() == ErrorCode::kReadOnlyField);
  CHECK(s.field() == "kind");
  CHECK(f.archive->Set("customers", id, R"({"kind":"person"})").ok());  // unchanged is fine
  ExpectRefused(f, "customers", R"({"name":"x","kind":"partnership"})", ErrorCode::kInvalidField, "kind");
}

TEST_CASE("contact details, dates, enums and unknown keys name the field", "[rules]") {
  ArchiveFixture f;
  ExpectRefused(f, "customers", R"({"name":"a","phones":["1380013800"]})", ErrorCode::kInvalidField, "phones[0]");
  ExpectRefused(f, "customers", R"({"name":"a","phones":"12800138000"})", ErrorCode::kInvalidField, "phones[0]");
  ExpectRefused(f, "customers", R"({"name":"a","email":"a@b"})", ErrorCode::kInvalidField, "email");
  ExpectRefused(f, "customers", R"({"name":"a","birth_date":"1990-02-30"})", ErrorCode::kInvalidField, "birth_date");
  ExpectRefused(f, "customers", R"({"name":"a","value_tier":"vip"})", ErrorCode::kInvalidField, "value_tier");
  ExpectRefused(f, "customers", R"({"name":"a","gender":"M"})", ErrorCode::kInvalidField, "gender");
  ExpectRefused(f, "customers", R"({"name":"a","nickname":"阿"})", ErrorCode::kUnknownField, "nickname");
  ExpectRefused(f, "customers", R"({"name":"   "})", ErrorCode::kInvalidField, "name");
  ExpectRefused(f, "customers", R"({"notes":"no name"})", ErrorCode::kMissingField, "name");
  const std::string c = f.Add("customers", R"({"name":"a"})");
  ExpectRefused(f, "family_members", R"({"relation":"cousin","name":"b"})", ErrorCode::kInvalidField, "relation", c);
  ExpectRefused(f, "family_members", R"({"relation":"child","name":"b","phone":"123"})", ErrorCode::kInvalidField,
                "phone", c);
  ExpectRefused(f, "tasks", R"({"title":"t","due_date":"2025-13-01"})", ErrorCode::kInvalidField, "due_date");
  ExpectRefused(f, "tasks", R"({"title":"t"})", ErrorCode::kMissingField, "due_date");
  ExpectRefused(f, "tasks", R"({"title":"t","due_date":"2025-01-01","customer_id":"0190a5c4-1111-7222-8333-444455556666"})",
                ErrorCode::kNotFound, "customer_id");
  ExpectRefused(f, "visits", R"({"channel":"telepathy"})", ErrorCode::kInvalidField, "channel", c);
  ExpectRefused(f, "visits", R"({"channel":"visit","latitude":39.9})", ErrorCode::kInvalidField, "longitude", c);
  ExpectRefused(f, "visits", R"({"channel":"visit","visited_at":"last week"})", ErrorCode::kInvalidField, "visited_at",
                c);
}

TEST_CASE("a customer from a list needs the legal basis recorded", "[rules]") {
  ArchiveFixture f;
  ExpectRefused(f, "customers", R"({"name":"a","source":"list"})", ErrorCode::kMissingField, "source_legal_basis");
  ExpectRefused(f, "customers", R"({"name":"a","source":"list","source_legal_basis":""})", ErrorCode::kMissingField,
                "source_legal_basis");
  const std::string id =
      f.Add("customers", R"({"name":"a","source":"list","source_legal_basis":"客户书面同意，2025-01-02"})");
  Status s = f.archive->Set("customers", id, R"({"source_legal_basis":null})");
  CHECK(s.code() == ErrorCode::kMissingField);
  CHECK(s.field() == "source_legal_basis");
  f.Add("customers", R"({"name":"b","source":"referral"})");
}

TEST_CASE("money is whole non-negative fen wherever it appears", "[rules]") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"a"})");
  ExpectRefused(f, "customers", R"({"name":"a","annual_income":12.5})", ErrorCode::kInvalidField, "annual_income");
  ExpectRefused(f, "customers", R"({"name":"a","annual_income":-100})", ErrorCode::kInvalidField, "annual_income");
  ExpectRefused(f, "policies", R"({"policy_number":"P","product":"x","effective_date":"2025-01-01","premium":-1,"payment_frequency":"annual"})",
                ErrorCode::kInvalidField, "premium", c);
  ExpectRefused(f, "policies",
                R"({"policy_number":"P","product":"x","effective_date":"2025-01-01","premium":"360000","payment_frequency":"annual"})",
                ErrorCode::kInvalidField, "premium", c);
  ExpectRefused(f, "policies",
                R"({"policy_number":"P","product":"x","effective_date":"2025-01-01","premium":1,"sum_assured":0.5,"payment_frequency":"annual"})",
                ErrorCode::kInvalidField, "sum_assured", c);
}

TEST_CASE("policy rows stay with the policy's own customer", "[rules]") {
  ArchiveFixture f;
  const std::string alice = f.Add("customers", R"({"name":"甲"})");
  const std::string bob = f.Add("customers", R"({"name":"乙"})");
  const std::string policy = f.Add("policies", R"({"policy_number":"P1",)" + std::string(kPolicy) + "}", alice);
  const std::string plain = R"("policy_id":")" + policy + R"(")";
  ExpectRefused(f, "claims",
                "{" + plain + R"(,"customer_id":")" + bob +
                    R"(","claim_date":"2025-02-01","type":"medical","amount":1,"status":"reported"})",
                ErrorCode::kInvalidField, "policy_id");
  ExpectRefused(f, "policy_roles",
                "{" + plain + R"(,"role":"insured","party_type":"other","party_name":"x"})", ErrorCode::kInvalidField,
                "policy_id", bob);
  ExpectRefused(f, "policy_roles",
                "{" + plain + R"(,"role":"insured","party_type":"other","party_name":"x","share_percent":10})",
                ErrorCode::kInvalidField, "share_percent");
  const std::string bobs_child = f.Add("family_members", R"({"relation":"child","name":"乙子"})", bob);
  ExpectRefused(f, "policy_roles",
                "{" + plain + R"(,"role":"insured","party_type":"family_member","party_id":")" + bobs_child +
                    R"(","party_name":"乙子"})",
                ErrorCode::kNotFound, "party_id");
  ExpectRefused(f, "group_members", "{" + plain + R"(,"name":"员工"})", ErrorCode::kInvalidField, "policy_id");
  ExpectRefused(f, "claims",
                R"({"policy_id":"0190a5c4-1111-7222-8333-444455556666","claim_date":"2025-02-01","type":"medical","amount":1,"status":"reported"})",
                ErrorCode::kNotFound, "policy_id");
  // Without a customer the policy's own is used.
  const std::string claim = f.Add(
      "claims", "{" + plain + R"(,"claim_date":"2025-02-01","type":"medical","amount":1,"status":"reported"})");
  CHECK(Text(f.Show("claims", claim), "customer_id") == alice);
  // A child's customer is fixed once written.
  Status moved = f.archive->Set("claims", claim, R"({"customer_id":")" + bob + R"("})");
  CHECK(moved.code() == ErrorCode::kReadOnlyField);
  CHECK(moved.field() == "customer_id");
}

TEST_CASE("policy dates and payment schedule agree", "[rules]") {
  ArchiveFixture f;
  const std::string c = f.Add("customers", R"({"name":"a"})");
  ExpectRefused(f, "policies",
                R"({"policy_number":"P","product":"x","effective_date":"2025-01-01","premium":1,"payment_frequency":"single","payment_due_date":"2026-01-01"})",
                ErrorCode::kInvalidField, "payment_due_date", c);
  ExpectRefused(f, "policies",
                R"({"policy_number":"P","product":"x","effective_date":"2025-01-01","premium":1,"payment_frequency":"annual","payment_due_date":"2024-12-31"})",
                ErrorCode::kInvalidField, "payment_due_date", c);
  ExpectRefused(f, "policies", R"({"policy_number":"P","product":"x","premium":1,"payment_frequency":"annual"})",
                ErrorCode::kMissingField, "effective_date", c);
  const std::string p = f.Add("policies", R"({"policy_number":"P",)" + std::string(kPolicy) + "}", c);
  auto policy = f.Show("policies", p);
  CHECK(Text(policy, "status") == "in_force");
  CHECK_FALSE(policy["is_group"].GetBool());
  ExpectRefused(f, "policies", R"({"policy_number":"P2",)" + std::string(kPolicy) + R"(,"roles":{}})",
                ErrorCode::kInvalidField, "roles", c);
}

TEST_CASE("the rule table covers every archive table but consents", "[rules]") {
  auto rules = ArchiveRules();
  for (const auto& t : ArchiveRegistry().tables()) {
    INFO(t.name);
    CHECK((rules.count(t.name) == 1) == (t.name != "consents"));
  }
}
