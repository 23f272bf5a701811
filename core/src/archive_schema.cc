#include "fieldbook/core/archive_schema.h"

#include "fieldbook/core/operation.h"
#include "fieldbook/core/audit.h"
#include "fieldbook/core/pinyin.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/core/service_quality.h"

namespace fieldbook {

TableBuilder& Stamps(TableBuilder& b) {
  return b.Int("created_at", Format::kTimestamp).Merge(MergePolicy::kImmutable)
      .Int("updated_at", Format::kTimestamp).Merge(MergePolicy::kMax);
}

namespace {

constexpr auto kLww = MergePolicy::kLww;
constexpr auto kTextMerge = MergePolicy::kTextMerge;
constexpr auto kMax = MergePolicy::kMax;
constexpr auto kImmutable = MergePolicy::kImmutable;

TableBuilder& IdDocument(TableBuilder& b) {
  return b.Enum("id_type", {"resident_id", "passport", "hk_macao_permit", "taiwan_permit",
                            "foreign_permanent_id", "military_id", "other"})
      .Text("id_number", Format::kIdNumber).Sensitive().MaxLength(40);
}

TableSpec Customers() {
  TableBuilder b("customers", OwnedBy("owner_agent", "team"));
  b.Enum("kind", {"person", "company"}).Required().Merge(kImmutable)
      .Text("name").Required().Personal().MaxLength(200)
      .Enum("gender", {"male", "female", "other", "unknown"})
      .Text("birth_date", Format::kDate).Personal()
      .Int("lunar_birthday", Format::kBool);
  IdDocument(b)
      .Text("phones", Format::kPhoneList).Sensitive()
      .Text("email", Format::kEmail).Personal().MaxLength(254)
      .Text("province").MaxLength(64)
      .Text("city").MaxLength(64)
      .Text("district").MaxLength(64)
      .Text("street").Sensitive().MaxLength(400)
      .Text("postal_code").MaxLength(16)
      .Text("country").MaxLength(64)
      .Text("occupation").MaxLength(200)
      .Text("employer").MaxLength(200)
      .Int("annual_income", Format::kMoney)
      .Enum("marital_status", {"single", "married", "divorced", "widowed"})
      .Enum("needs_segment", {"family", "professional", "elderly", "sme"})
      .Enum("value_tier", {"high", "potential", "general", "low"})
      .Enum("lifecycle_stage", {"lead", "first_deal", "repeat", "mature", "redevelop", "left"})
      .Enum("source", {"warm", "referral", "cold", "list"})
      .Text("referrer_id").MaxLength(64)
      .Text("referrer_name").Personal().MaxLength(200)
      .Text("source_legal_basis").MaxLength(1000)
      .Text("interests", Format::kJsonArray)
      .Text("owner_agent").Required().MaxLength(128)
      .Text("team").MaxLength(128)
      .Text("notes").Merge(kTextMerge).Personal().MaxLength(20000)
      // company customers (团体客户)
      .Text("credit_code", Format::kCreditCode).MaxLength(18)
      .Text("license_number").MaxLength(64)
      .Text("legal_rep").Personal().MaxLength(200)
      .Text("industry").MaxLength(200)
      .Int("staff_count", Format::kCount)
      .Text("contacts", Format::kJsonArray).Personal().MaxLength(20000)
      .Text("external_ref").MaxLength(128)
      .Text("legacy_owner").MaxLength(128)  // owner in the system a list was imported from
      .Int("last_contact_at", Format::kTimestamp).Merge(kMax)
      // scanned ID copies, business licenses, signed forms (docs/blobs.md): sensitive like
      // the ID number, so encrypted at rest and withheld from a lead (minimization.h)
      .Text("documents", Format::kBlobRefs).Sensitive().ColumnSince(3);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec Consents() {
  TableBuilder b("consents", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Enum("purpose", {"marketing", "service", "data_sharing", "profiling", "cross_border"}).Required()
      .Int("granted", Format::kBool).Required()
      .Enum("channel", {"paper", "in_person", "phone", "app", "wechat", "sms", "email"}).Required()
      .Int("recorded_at", Format::kTimestamp).Required()
      .Text("wording").MaxLength(4000)
      .Text("legal_basis").MaxLength(1000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec FamilyMembers() {
  TableBuilder b("family_members", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Enum("relation", {"spouse", "child", "parent", "sibling", "grandparent", "grandchild", "other"})
      .Required()
      .Text("name").Required().Personal().MaxLength(200)
      .Enum("gender", {"male", "female", "other", "unknown"})
      .Text("birth_date", Format::kDate).Personal()
      .Int("lunar_birthday", Format::kBool)
      .Text("occupation").MaxLength(200)
      .Int("insured", Format::kBool)
      .Text("phone", Format::kPhone).Sensitive();
  IdDocument(b).Text("notes").Merge(kTextMerge).Personal().MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec Policies() {
  TableBuilder b("policies", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Text("policy_number").Required().MaxLength(64)
      .Text("insurer").MaxLength(200)
      .Text("product").Required().MaxLength(200)
      .Enum("product_type", {"life", "critical_illness", "medical", "accident", "annuity",
                             "investment_linked", "universal", "education", "property", "liability",
                             "group", "other"})
      .Text("effective_date", Format::kDate).Required()
      .Int("term_years", Format::kCount)  // 0 = whole life
      .Int("premium", Format::kMoney).Required()
      .Enum("payment_frequency", {"annual", "semiannual", "quarterly", "monthly", "single"}).Required()
      .Int("payment_years", Format::kCount)
      .Text("payment_due_date", Format::kDate)
      .Int("sum_assured", Format::kMoney)
      .Enum("status", {"pending", "in_force", "grace", "lapsed", "surrendered", "matured", "terminated"})
      .Required()
      .Int("is_group", Format::kBool)
      .Text("notes").Merge(kTextMerge).MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec PolicyRoles() {
  TableBuilder b("policy_roles", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Ref("policy_id", "policies")
      .Enum("role", {"policyholder", "insured", "beneficiary"}).Required()
      .Enum("party_type", {"customer", "family_member", "other"}).Required()
      .Text("party_id").MaxLength(64)
      .Text("party_name").Required().Personal().MaxLength(200)
      .Int("share_percent", Format::kPercent);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec GroupMembers() {
  TableBuilder b("group_members", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Ref("policy_id", "policies")
      .Text("name").Required().Personal().MaxLength(200)
      .Enum("gender", {"male", "female", "other", "unknown"})
      .Text("birth_date", Format::kDate).Personal();
  IdDocument(b)
      .Text("employee_no").MaxLength(64)
      .Enum("relation", {"employee", "spouse", "child", "parent"})
      .Text("joined_on", Format::kDate)
      .Text("left_on", Format::kDate)
      .Enum("status", {"active", "left"});
  Stamps(b);
  return std::move(b).Build();
}

TableSpec Claims() {
  TableBuilder b("claims", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Ref("policy_id", "policies")
      .Text("claim_date", Format::kDate).Required()
      .Enum("type", {"medical", "critical_illness", "accident", "death", "disability",
                     "hospital_cash", "property", "other"}).Required()
      .Int("amount", Format::kMoney).Required()
      .Int("paid_amount", Format::kMoney)
      .Enum("status", {"reported", "collecting_documents", "submitted", "reviewing", "approved",
                       "paid", "rejected", "closed"}).Required()
      .Text("insured_name").Personal().MaxLength(200)
      .Text("notes").Merge(kTextMerge).MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec Visits() {
  TableBuilder b("visits", UnderRoot("customer_id", "customers"));
  b.Ref("customer_id", "customers")
      .Text("agent").MaxLength(128)
      .Enum("channel", {"visit", "phone", "wechat", "sms", "mail", "email", "video", "event"}).Required()
      .Enum("purpose", {"sales", "service", "claim", "greeting", "survey", "delivery", "collection",
                        "referral", "other"})
      .Int("visited_at", Format::kTimestamp).Required()
      .Int("duration_min", Format::kCount)
      .Real("latitude", Format::kLatitude).Sensitive()
      .Real("longitude", Format::kLongitude).Sensitive()
      .Text("outcome").MaxLength(4000)
      .Text("new_info").Merge(kTextMerge).Personal().MaxLength(20000)
      .Text("opportunities").MaxLength(4000)
      .Text("next_action").MaxLength(1000)
      .Text("next_action_date", Format::kDate)
      .Text("photos", Format::kBlobRefs)
      .Text("notes").Merge(kTextMerge).Personal().MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

TableSpec Tasks() {
  TableBuilder b("tasks", OwnedBy("owner_agent", "team"));
  b.Text("owner_agent").Required().MaxLength(128)
      .Text("team").MaxLength(128)
      .Text("title").Required().MaxLength(400)
      .Enum("kind", {"call", "visit", "follow_up", "greeting", "document", "payment_reminder",
                     "claim", "other"})
      .Text("customer_id", Format::kRef)  // soft link: the customer may move to another agent
      .Text("visit_id", Format::kRef)
      .Text("due_date", Format::kDate).Required()
      .Int("done", Format::kBool)
      .Int("done_at", Format::kTimestamp)
      .Enum("priority", {"high", "normal", "low"})
      .Text("notes").Merge(kTextMerge).MaxLength(20000);
  Stamps(b);
  return std::move(b).Build();
}

std::vector<SchemaStep> SearchAndIndexes() {
  const std::string mark_new_stale =
      "INSERT INTO fb_customer_fts_stale(rowid) SELECT new.rowid "
      "WHERE NOT EXISTS (SELECT 1 FROM fb_customer_fts_stale WHERE rowid = new.rowid);";
  const std::string unindex_old =
      "INSERT INTO fb_customer_fts(fb_customer_fts, rowid, name, phones, notes) "
      "SELECT 'delete', old.rowid, old.name, old.phones, old.notes "
      "WHERE NOT EXISTS (SELECT 1 FROM fb_customer_fts_stale WHERE rowid = old.rowid);";
  return {
      {1,
       "CREATE VIRTUAL TABLE IF NOT EXISTS fb_customer_fts USING fts5(name, phones, notes, "
       "content='customers', content_rowid='rowid', tokenize='trigram', detail=none)"},
      {1,
       "CREATE TRIGGER IF NOT EXISTS fb_customer_fts_ai AFTER INSERT ON customers BEGIN "
       "INSERT INTO fb_customer_fts(rowid, name, phones, notes) "
       "VALUES (new.rowid, new.name, new.phones, new.notes); END"},
      {1,
       "CREATE TRIGGER IF NOT EXISTS fb_customer_fts_ad AFTER DELETE ON customers BEGIN "
       "INSERT INTO fb_customer_fts(fb_customer_fts, rowid, name, phones, notes) "
       "VALUES ('delete', old.rowid, old.name, old.phones, old.notes); END"},
      {1,
       "CREATE TRIGGER IF NOT EXISTS fb_customer_fts_au AFTER UPDATE OF name, phones, notes "
       "ON customers BEGIN "
       "INSERT INTO fb_customer_fts(fb_customer_fts, rowid, name, phones, notes) "
       "VALUES ('delete', old.rowid, old.name, old.phones, old.notes); "
       "INSERT INTO fb_customer_fts(rowid, name, phones, notes) "
       "VALUES (new.rowid, new.name, new.phones, new.notes); END"},
      // Not unique: two devices may import the same list; sync must never hit a local
      // uniqueness constraint the server cannot see.
      {1,
       "CREATE INDEX IF NOT EXISTS fb_ix_customers_external_ref ON customers(external_ref) "
       "WHERE external_ref IS NOT NULL"},
      {1, "CREATE INDEX IF NOT EXISTS fb_ix_customers_name ON customers(name)"},
      {1, "CREATE INDEX IF NOT EXISTS fb_ix_tasks_due ON tasks(due_date)"},
      {1, "CREATE INDEX IF NOT EXISTS fb_ix_visits_at ON visits(visited_at)"},
      // Schema 4: the full-text index is brought up to date when a search reads it
      // (RefreshSearchIndex), not by every write. Writes only mark a customer stale; a
      // stale customer's old text is not in the index, so it has nothing to delete there.
      // Trigram-indexing the notes of 10k pulled customers took ~140 ms of applying them.
      {4, "CREATE TABLE IF NOT EXISTS fb_customer_fts_stale (rowid INTEGER PRIMARY KEY) STRICT"},
      {4, "DROP TRIGGER IF EXISTS fb_customer_fts_ai"},
      {4, "DROP TRIGGER IF EXISTS fb_customer_fts_ad"},
      {4, "DROP TRIGGER IF EXISTS fb_customer_fts_au"},
      {4, "CREATE TRIGGER fb_customer_fts_ai AFTER INSERT ON customers BEGIN " + mark_new_stale + " END"},
      {4, "CREATE TRIGGER fb_customer_fts_ad AFTER DELETE ON customers BEGIN " + unindex_old +
              " DELETE FROM fb_customer_fts_stale WHERE rowid = old.rowid; END"},
      {4, "CREATE TRIGGER fb_customer_fts_au AFTER UPDATE OF name, phones, notes ON customers BEGIN " + unindex_old +
              " " + mark_new_stale + " END"},
      // Customers held before schema 4 are in the index already: none is stale.
  };
}

std::vector<InsertTriggerBulkForm> SearchBulkForms() {
  return {{"customers", "fb_customer_fts_ai",
           "INSERT OR IGNORE INTO fb_customer_fts_stale(rowid) SELECT rowid FROM customers "
           "WHERE rowid BETWEEN ?1 AND ?2"}};
}

}  // namespace

const SchemaRegistry& ArchiveRegistry() {
  // Immutable after construction; shared read-only by every Store.
  static const SchemaRegistry registry = [] {
    std::vector<TableSpec> tables{Customers(), Consents(), FamilyMembers(), Policies(), PolicyRoles(),
                                  GroupMembers(), Claims(), Visits(), Tasks()};
    std::vector<SchemaStep> steps = SearchAndIndexes();
    auto append = [](auto& to, auto from) { for (auto& x : from) to.push_back(std::move(x)); };
    append(tables, OperationTables());
    append(tables, RelationsTables());
    append(tables, ServiceQualityTables());
    append(tables, AuditTables());
    append(steps, PinyinSchemaSteps());
    append(steps, AuditSchemaSteps());
    std::vector<InsertTriggerBulkForm> bulk_forms = SearchBulkForms();
    append(bulk_forms, PinyinBulkForms());
    return SchemaRegistry(std::move(tables), std::move(steps), std::move(bulk_forms));
  }();
  return registry;
}

}  // namespace fieldbook
