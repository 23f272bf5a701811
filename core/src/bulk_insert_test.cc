#include "fieldbook/core/bulk_insert.h"

#include "archive_testutil.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

// Every row of a query, its columns joined by '|', rows by '\n'.
std::string Dump(Store& store, const std::string& sql) {
  auto st = store.Prepare(sql);
  REQUIRE(st.ok());
  std::string out;
  for (;;) {
    auto row = st->Step();
    REQUIRE(row.ok());
    if (!*row) break;
    for (int i = 0; i < st->ColumnCount(); ++i) out += (st->IsNull(i) ? std::string("NULL") : st->String(i)) + "|";
    out += "\n";
  }
  return out;
}

void InsertCustomers(Store& store, int from, int n) {
  auto st = store.Prepare("INSERT INTO customers(id, kind, name, owner_agent, notes) VALUES (?1, 'person', ?2, 'agent-7', ?3)");
  REQUIRE(st.ok());
  for (int i = from; i < from + n; ++i) {
    REQUIRE(st->Bind(1, "c-" + std::to_string(i)).Bind(2, "客户" + std::to_string(i)).Bind(3, "备注 " + std::to_string(i)).Run().ok());
    st->Reset();
  }
}

int64_t LastRowid(Store& store) { return store.last_insert_rowid(); }

const char* kDerived =
    "SELECT 'pinyin', rowid, keys, sort_key FROM fb_customer_pinyin "
    "UNION ALL SELECT 'stale', rowid, NULL, NULL FROM fb_customer_fts_stale ORDER BY 1, 2";

}  // namespace

TEST_CASE("bulk insert: the event of a trigger is read through quotes, schema names and comments") {
  CHECK(TriggerMayFireOnInsert("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END"));
  CHECK(TriggerMayFireOnInsert("CREATE TRIGGER x INSERT ON t BEGIN SELECT 1; END"));
  CHECK(TriggerMayFireOnInsert("create temp trigger if not exists \"a \"\" b\" before insert on t begin select 1; end"));
  CHECK_FALSE(TriggerMayFireOnInsert("CREATE TRIGGER x AFTER UPDATE OF name ON t BEGIN SELECT 1; END"));
  CHECK_FALSE(TriggerMayFireOnInsert("CREATE TRIGGER IF NOT EXISTS [x y] BEFORE DELETE ON t BEGIN SELECT 1; END"));
  CHECK_FALSE(TriggerMayFireOnInsert("CREATE TEMPORARY TRIGGER main.`x` DELETE ON t BEGIN SELECT 1; END"));
  CHECK_FALSE(TriggerMayFireOnInsert("CREATE /* c */ TRIGGER \"insert\" -- after insert\n INSTEAD OF UPDATE ON v BEGIN SELECT 1; END"));
  // What it cannot read, it takes as firing on insert.
  CHECK(TriggerMayFireOnInsert(""));
  CHECK(TriggerMayFireOnInsert("CREATE VIEW v AS SELECT 1"));
  CHECK(TriggerMayFireOnInsert("CREATE TRIGGER \"unterminated AFTER DELETE ON t"));
  CHECK(TriggerMayFireOnInsert("CREATE TRIGGER x AFTER"));
}

TEST_CASE("bulk insert: customers inserted with triggers off and the bulk forms leave what the triggers leave") {
  ArchiveFixture with, bulk;
  // Some customers already there, so the range starts inside the table.
  InsertCustomers(*with.store, 0, 3);
  InsertCustomers(*bulk.store, 0, 3);
  InsertCustomers(*with.store, 3, 50);

  auto plan = BulkInsertPlan::For(*bulk.store, "customers", {});
  REQUIRE(plan.ok());
  REQUIRE(plan->has_value());
  {
    auto off = TriggersOff::Begin(*bulk.store);
    REQUIRE(off.ok());
    InsertCustomers(*bulk.store, 3, 1);
    const int64_t first = LastRowid(*bulk.store);
    InsertCustomers(*bulk.store, 4, 49);
    const int64_t last = LastRowid(*bulk.store);
    CHECK(bulk.Count("SELECT count(*) FROM fb_customer_pinyin") == 3);  // no trigger ran
    REQUIRE(off->End().ok());
    REQUIRE((*plan)->Finish(*bulk.store, first, last).ok());
  }
  CHECK(Dump(*bulk.store, kDerived) == Dump(*with.store, kDerived));
  CHECK(bulk.Count("SELECT count(*) FROM fb_customer_fts_stale") == 53);
  // Triggers are on again.
  InsertCustomers(*bulk.store, 53, 1);
  InsertCustomers(*with.store, 53, 1);
  CHECK(Dump(*bulk.store, kDerived) == Dump(*with.store, kDerived));
  // The search finds the bulk-inserted customers like the others.
  ListQuery q = Rows("customers");
  q.search = "备注 42";
  CHECK(Strings(bulk.List(q), "id") == std::vector<std::string>{"c-42"});
}

TEST_CASE("bulk insert: a trigger the plan does not know refuses the plan unless it never fires on insert") {
  ArchiveFixture f;
  auto plan = [&](const std::vector<std::string>& no_ops = {}) {
    auto p = BulkInsertPlan::For(*f.store, "customers", no_ops);
    REQUIRE(p.ok());
    return p->has_value();
  };
  CHECK(plan());
  REQUIRE(f.store->Exec("CREATE TRIGGER app_on_update AFTER UPDATE ON customers BEGIN SELECT 1; END").ok());
  CHECK(plan());
  REQUIRE(f.store->Exec("CREATE TRIGGER app_on_insert AFTER INSERT ON Customers BEGIN SELECT 1; END").ok());
  CHECK_FALSE(plan());
  CHECK(plan({"APP_ON_INSERT"}));  // named by the writer as doing nothing for its inserts
  // A TEMP trigger still fires while the main schema's are off: it does not stop the plan.
  REQUIRE(f.store->Exec("DROP TRIGGER app_on_insert").ok());
  REQUIRE(f.store->Exec("CREATE TEMP TRIGGER app_temp AFTER INSERT ON customers BEGIN "
                        "INSERT INTO fb_settings(key, value) VALUES ('temp-' || new.id, 'x'); END").ok());
  CHECK(plan());
  auto off = TriggersOff::Begin(*f.store);
  REQUIRE(off.ok());
  InsertCustomers(*f.store, 0, 2);
  REQUIRE(off->End().ok());
  CHECK(f.Count("SELECT count(*) FROM fb_settings WHERE key LIKE 'temp-%'") == 2);
}
