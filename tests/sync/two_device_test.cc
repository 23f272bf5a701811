// Two devices and a server in one process, through the real protocol encoding and API.
#include <catch2/catch.hpp>

#include <filesystem>

#include "fieldbook/core/json.h"
#include "fieldbook/sync/erasure.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

TEST_CASE("edits of different fields on two devices merge; a same-field edit is kept as a conflict", "[sync]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");

  auto id = a.archive->Add("customers", R"({"name":"张三","phones":["13800138000"],"notes":"喜欢钓鱼"})");
  REQUIRE(id.ok());
  auto first = a.Sync(*server.transport, token);
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK(first->pushed == 1);
  auto got = b.Sync(*server.transport, token);
  REQUIRE(got.ok());
  CHECK(got->pulled >= 1);
  CHECK(b.Field(*id, "name") == "张三");

  // Offline: A edits the phone and the tier, B the tier and the notes.
  REQUIRE(a.archive->Set("customers", *id, R"({"phones":["13900139000"],"value_tier":"high"})").ok());
  REQUIRE(b.archive->Set("customers", *id, R"({"value_tier":"potential","notes":"喜欢钓鱼和茶"})").ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  auto rb = b.Sync(*server.transport, token);
  REQUIRE(rb.ok());
  CHECK(rb->conflicts == 1);
  REQUIRE(a.Sync(*server.transport, token).ok());

  CHECK(a.Export() == b.Export());
  CHECK(a.Field(*id, "phones") == R"(["13900139000"])");
  CHECK(a.Field(*id, "notes") == "喜欢钓鱼和茶");
  // The tier: one value won, the other is a conflict record on both devices.
  const std::string tier = a.Field(*id, "value_tier");
  auto conflicts = ExportJson(*a.store, {&sync::ConflictsTable()});
  REQUIRE(conflicts.ok());
  auto doc = ParseJson(*conflicts, "conflicts");
  REQUIRE((*doc)["conflicts"].Size() == 1);
  const auto& c = (*doc)["conflicts"][0];
  CHECK(std::string(c["col"].GetString()) == "value_tier");
  CHECK(std::string(c["winner_value"].GetString()) == "\"" + tier + "\"");
  CHECK(std::string(c["loser_value"].GetString()) == (tier == "high" ? "\"potential\"" : "\"high\""));
}

TEST_CASE("concurrent note edits in different places merge three-way", "[sync]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "");
  TestDevice b(dir.File("b.db"), "agent-1", "");
  const std::string token = server.Token("agent-1", "");
  auto id = a.archive->Add("customers", R"({"name":"李四","notes":"第一行\n第二行\n第三行"})");
  REQUIRE(id.ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  REQUIRE(a.archive->Set("customers", *id, R"({"notes":"第一行 改\n第二行\n第三行"})").ok());
  REQUIRE(b.archive->Set("customers", *id, R"({"notes":"第一行\n第二行\n第三行 😀"})").ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  auto rb = b.Sync(*server.transport, token);
  REQUIRE(rb.ok());
  CHECK(rb->conflicts == 0);
  REQUIRE(a.Sync(*server.transport, token).ok());
  CHECK(a.Field(*id, "notes") == "第一行 改\n第二行\n第三行 😀");
  CHECK(a.Export() == b.Export());
}

TEST_CASE("a delete wins over a concurrent edit, which is kept as a conflict record", "[sync]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "");
  TestDevice b(dir.File("b.db"), "agent-1", "");
  const std::string token = server.Token("agent-1", "");
  auto id = a.archive->Add("customers", R"({"name":"王五"})");
  REQUIRE(id.ok());
  REQUIRE(a.archive->Add("visits", R"({"channel":"phone"})", *id).ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  REQUIRE(a.archive->Remove("customers", *id).ok());
  REQUIRE(b.archive->Set("customers", *id, R"({"occupation":"教师"})").ok());
  REQUIRE(b.archive->Add("visits", R"({"channel":"visit","outcome":"见面"})", *id).ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  auto rb = b.Sync(*server.transport, token);
  INFO(rb.status().ToString());
  REQUIRE(rb.ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  CHECK(a.Export() == b.Export());
  CHECK_FALSE(b.archive->Show("customers", *id).ok());
  auto conflicts = ExportJson(*b.store, {&sync::ConflictsTable()});
  auto doc = ParseJson(*conflicts, "conflicts");
  CHECK((*doc)["conflicts"].Size() >= 2);  // the edited customer and the new visit
  ListQuery visits;
  visits.table = "visits";
  auto list = b.archive->List(visits);
  CHECK(*list == "[]");
}

TEST_CASE("a sync reads through SQLite's page cache, not the memory map, and restores the store's settings",
          "[sync]") {
  // Pages read through the map stay in the process's resident set: pulling a large book
  // that way made the app's footprint grow with the file.
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  REQUIRE(a.archive->Add("customers", R"({"name":"张三"})").ok());
  auto pragma = [&](const char* name) {
    auto st = a.store->Prepare(std::string("PRAGMA ") + name);
    REQUIRE(st.ok());
    auto row = st->Step();
    REQUIRE((row.ok() && *row));
    return st->Int(0);
  };
  const int64_t mmap = pragma("mmap_size"), synchronous = pragma("synchronous");
  const int64_t autocheckpoint = pragma("wal_autocheckpoint");
  REQUIRE(mmap > 0);
  struct Watching : sync::Transport {
    sync::Transport& next;
    std::function<void()> watch;
    Watching(sync::Transport& n, std::function<void()> w) : next(n), watch(std::move(w)) {}
    Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override {
      watch();
      return next.Send(request);
    }
  };
  std::vector<int64_t> during;
  Watching watching(*server.transport, [&] { during.push_back(pragma("mmap_size")); });
  auto report = a.Sync(watching, token);
  REQUIRE(report.ok());
  REQUIRE_FALSE(during.empty());
  for (int64_t m : during) CHECK(m == 0);
  CHECK(pragma("mmap_size") == mmap);
  CHECK(pragma("synchronous") == synchronous);
  CHECK(pragma("wal_autocheckpoint") == autocheckpoint);
  // A refused sync restores them too.
  auto refused = a.Sync(*server.transport, "not-a-token");
  CHECK_FALSE(refused.ok());
  CHECK(pragma("mmap_size") == mmap);
  CHECK(pragma("synchronous") == synchronous);
}

TEST_CASE("a pull long enough to fill the WAL is checkpointed beside the sync", "[sync]") {
  // While a sync writes pulled pages, its commits leave checkpoints to a checkpointer of
  // its own; should it not run, the WAL would hold the whole pull.
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  const std::string notes(3000, 'n');
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(a.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"(","notes":")" + notes + "\"}").ok());
  }
  const std::string token = server.Token("agent-1", "team-1");
  REQUIRE(a.Sync(*server.transport, token).ok());
  const std::string path = dir.File("b.db");
  TestDevice b(path, "agent-1", "team-1");
  const auto before = std::filesystem::file_size(path);
  auto pulled = b.Sync(*server.transport, token, 500);
  REQUIRE(pulled.ok());
  REQUIRE(pulled->pulled == 3000);
  INFO("database " << std::filesystem::file_size(path) << " bytes, WAL " << std::filesystem::file_size(path + "-wal"));
  CHECK(std::filesystem::file_size(path) > before + (4u << 20));
  // The device checkpoints itself again after the sync.
  auto st = b.store->Prepare("PRAGMA wal_autocheckpoint");
  REQUIRE(st.ok());
  REQUIRE(*st->Step());
  CHECK(st->Int(0) == 1000);
}

namespace {

int64_t CursorOf(Store& device) {
  auto st = device.Prepare("SELECT cursor FROM fb_sync_state");
  REQUIRE(st.ok());
  REQUIRE(*st->Step());
  return st->Int(0);
}

// Carries each request at Start, as a network does while the device works: the server
// answers before the page in hand is applied. Notes the cursor each request asked from
// and the device's own cursor at that moment; `before` runs first, `lose` drops one.
class EagerTransport : public sync::Transport {
 public:
  EagerTransport(sync::Transport& next, Store& device) : next_(next), device_(device) {}

  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override { return next_.Send(request); }

  std::unique_ptr<sync::PendingExchange> Start(sync::HttpRequest request) override {
    ++started;
    std::string body = request.body;
    if (sync::LooksGzipped(body)) body = *sync::Gunzip(body, 64u << 20);
    auto decoded = sync::DecodeRequest(body);
    REQUIRE(decoded.ok());
    asked.emplace_back(decoded->cursor, CursorOf(device_));
    if (before) before(started);
    Result<sync::HttpResponse> outcome = started == lose ? Result<sync::HttpResponse>(Status(
                                                               ErrorCode::kUnreachable, "lost on the way"))
                                                         : next_.Send(request);
    return std::make_unique<AnsweredExchange>(std::move(outcome));
  }

  int started = 0;
  int lose = 0;
  std::function<void(int)> before;
  std::vector<std::pair<int64_t, int64_t>> asked;  // (cursor asked from, device's cursor then)

 private:
  sync::Transport& next_;
  Store& device_;
};

// An agent's device, the team lead's and another agent's: customers the lead moves between
// the two agents.
struct MoveFixture {
  TempDir dir;
  TestServer server{dir.File("server.db")};
  TestDevice a{dir.File("a.db"), "agent-1", "team-1"};
  TestDevice lead{dir.File("lead.db"), "lead-1", "team-1"};
  TestDevice b{dir.File("b.db"), "agent-2", "team-1"};
  const std::string token_a = server.Token("agent-1", "team-1");
  const std::string token_lead = server.Token("lead-1", "team-1", server::Role::kLead);
  const std::string token_b = server.Token("agent-2", "team-1");
};

}  // namespace

TEST_CASE("a pull over many pages asks for each page before writing the one in hand", "[sync]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    auto id = a.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"("})");
    REQUIRE(id.ok());
    ids.push_back(*id);
  }
  REQUIRE(a.Sync(*server.transport, token).ok());

  SECTION("every page arrives once, in order, and the devices agree") {
    TestDevice b(dir.File("b.db"), "agent-1", "team-1");
    EagerTransport eager(*server.transport, *b.store);
    auto report = b.Sync(eager, token, 4);
    INFO(report.status().ToString());
    REQUIRE(report.ok());
    CHECK(report->pulled == 30);
    CHECK(a.Export() == b.Export());
    // Every page after the first was asked for while the one before it waited.
    int ahead = 0;
    for (const auto& [asked, had] : eager.asked) ahead += asked > had ? 1 : 0;
    CHECK(ahead >= 7);
    CHECK(report->round_trips == static_cast<int64_t>(eager.asked.size()));
  }

  SECTION("an edit on the server between pages comes in a later page") {
    TestDevice b(dir.File("b.db"), "agent-1", "team-1");
    EagerTransport eager(*server.transport, *b.store);
    eager.before = [&](int n) {
      if (n != 3) return;
      REQUIRE(a.archive->Set("customers", ids[0], R"({"notes":"第三页时改的"})").ok());
      REQUIRE(a.Sync(*server.transport, token).ok());
    };
    auto report = b.Sync(eager, token, 4);
    REQUIRE(report.ok());
    CHECK(b.Field(ids[0], "notes") == "第三页时改的");
    CHECK(a.Export() == b.Export());
  }

  SECTION("a page asked for ahead and lost: the page in hand is kept, the next sync continues from it") {
    TestDevice b(dir.File("b.db"), "agent-1", "team-1");
    EagerTransport eager(*server.transport, *b.store);
    eager.lose = 4;
    auto lost = b.Sync(eager, token, 4);
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.status().code() == ErrorCode::kUnreachable);
    // Three pages were written (the third while the fourth was lost), nothing beyond them.
    REQUIRE(eager.asked.size() == 4);
    CHECK(CursorOf(*b.store) == eager.asked[3].first);
    auto count = b.store->Prepare("SELECT count(*) FROM customers");
    REQUIRE(*count->Step());
    CHECK(count->Int(0) == 12);
    auto again = b.Sync(*server.transport, token, 4);
    REQUIRE(again.ok());
    CHECK(again->pulled == 18);
    CHECK(a.Export() == b.Export());
  }
}

TEST_CASE("an edit made after a pull stopped part way is not taken as having seen what the pull missed", "[sync]") {
  // A row written again while a pull was under way moves past the pages already read: a
  // device whose pull stops there has a cursor beyond the first write without having it.
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  auto id = a.archive->Add("customers", R"({"name":"王五","occupation":"教师"})");
  REQUIRE(id.ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());

  REQUIRE(a.archive->Set("customers", *id, R"({"occupation":"医生"})").ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  for (int i = 0; i < 6; ++i) REQUIRE(a.archive->Add("customers", R"({"name":"新客户)" + std::to_string(i) + "\"}").ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(a.archive->Set("customers", *id, R"({"notes":"又改了备注"})").ok());
  REQUIRE(a.Sync(*server.transport, token).ok());

  // B pulls two pages of two rows (past A's occupation edit) and then loses the network.
  EagerTransport eager(*server.transport, *b.store);
  eager.lose = 3;
  REQUIRE_FALSE(b.Sync(eager, token, 2).ok());
  REQUIRE(CursorOf(*b.store) == eager.asked[2].first);  // two pages in, the third lost
  REQUIRE(b.Field(*id, "occupation") == "教师");  // the row's newer state was further on

  // Offline, B changes the occupation too; A's 医生 is one it never saw.
  REQUIRE(b.archive->Set("customers", *id, R"({"occupation":"律师"})").ok());
  auto report = b.Sync(*server.transport, token);
  REQUIRE(report.ok());
  CHECK(report->conflicts == 1);
  REQUIRE(a.Sync(*server.transport, token).ok());
  CHECK(a.Export() == b.Export());
  auto conflicts = ExportJson(*a.store, {&sync::ConflictsTable()});
  REQUIRE(conflicts.ok());
  auto doc = ParseJson(*conflicts, "conflicts");
  REQUIRE((*doc)["conflicts"].Size() == 1);
  const auto& c = (*doc)["conflicts"][0];
  CHECK(std::string(c["col"].GetString()) == "occupation");
  const std::string winner = c["winner_value"].GetString(), loser = c["loser_value"].GetString();
  CHECK(((winner == "\"律师\"" && loser == "\"医生\"") || (winner == "\"医生\"" && loser == "\"律师\"")));
}

TEST_CASE("a write of more cells than a batch holds goes up whole, in one batch", "[sync]") {
  // The cells of one write share its local order; a batch boundary inside them used to
  // leave every one of them out, and the sync went round without end.
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  auto id = a.archive->Add("customers", R"({"name":"赵六"})");
  REQUIRE(id.ok());
  REQUIRE(a.archive->Add("customers", R"({"name":"钱七"})").ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(a.archive->Set("customers", *id, R"({"occupation":"工程师","notes":"三个字段","value_tier":"high"})").ok());
  sync::SyncOptions options;
  options.token = token;
  options.push_limit = 2;
  options.max_round_trips = 20;
  auto report = a.Sync(*server.transport, options);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(report->pushed == 1);
  CHECK(*sync::PendingRowCount(*a.store) == 0);
  REQUIRE(b.Sync(*server.transport, token).ok());
  CHECK(b.Field(*id, "occupation") == "工程师");
  CHECK(a.Export() == b.Export());
}

TEST_CASE("an edit of a visit whose creation the server did not keep (its customer erased) is settled, not refused",
          "[sync]") {
  // With small batches the visit's creation and its later edit go up one after the other;
  // the server drops the creation (the customer was erased meanwhile) and must then place
  // the edit without the customer id an update does not carry.
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  auto customer = a.archive->Add("customers", R"({"name":"孙八"})");
  REQUIRE(customer.ok());
  REQUIRE(a.Sync(*server.transport, token).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());

  auto visit = a.archive->Add("visits", R"({"channel":"visit","outcome":"初访"})", *customer);
  REQUIRE(visit.ok());
  REQUIRE(a.archive->Set("visits", *visit, R"({"outcome":"再访"})").ok());
  // B's other work comes first in A's pull, so A's edit goes up before A hears of the erasure.
  for (int i = 0; i < 3; ++i) REQUIRE(b.archive->Add("customers", R"({"name":"别的)" + std::to_string(i) + "\"}").ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  REQUIRE(sync::EraseRoot(*b.store, {"customers", *customer, "agent-1", SystemEnv().NowMs()}).ok());
  REQUIRE(b.Sync(*server.transport, token).ok());

  sync::SyncOptions options;
  options.token = token;
  options.page_limit = 1;
  options.push_limit = 1;
  options.max_round_trips = 20;
  auto report = a.Sync(*server.transport, options);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(*sync::PendingRowCount(*a.store) == 0);
  auto left = a.store->Prepare("SELECT (SELECT count(*) FROM customers WHERE id = ?1) + (SELECT count(*) FROM visits)");
  left->Bind(1, *customer);
  REQUIRE(*left->Step());
  CHECK(left->Int(0) == 0);
  REQUIRE(b.Sync(*server.transport, token).ok());
  CHECK(a.Export() == b.Export());
}

TEST_CASE("a page of long rows stops at the server's byte budget; a row larger than it still comes", "[sync]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  CheckPageByteBudget(server, dir);
}

TEST_CASE_METHOD(MoveFixture,
                 "writes under a customer that moved away, made before or after hearing of it, go to "
                 "the new owner",
                 "[sync]") {
  // The old owner's device keeps the customer until its own writes under it are pushed;
  // a visit added in that window came after the device learnt of the move, and refusing
  // it stopped that device's sync for good.
  auto customer = a.archive->Add("customers", R"({"name":"周九"})");
  REQUIRE(customer.ok());
  REQUIRE(a.Sync(*server.transport, token_a).ok());
  REQUIRE(lead.Sync(*server.transport, token_lead).ok());

  REQUIRE(a.archive->Add("visits", R"({"channel":"visit","outcome":"移交前一"})", *customer).ok());
  REQUIRE(a.archive->Add("visits", R"({"channel":"visit","outcome":"移交前二"})", *customer).ok());
  REQUIRE(lead.archive->Set("customers", *customer, R"({"owner_agent":"agent-2"})").ok());
  REQUIRE(lead.Sync(*server.transport, token_lead).ok());

  // A pushes one visit, hears of the move (the customer stays: a visit still waits), and
  // loses the network; then adds a third visit.
  {
    EagerTransport eager(*server.transport, *a.store);
    eager.lose = 2;
    sync::SyncOptions options;
    options.token = token_a;
    options.push_limit = 1;
    REQUIRE_FALSE(a.Sync(eager, options).ok());
  }
  CHECK(a.Field(*customer, "name") == "周九");
  REQUIRE(a.archive->Add("visits", R"({"channel":"visit","outcome":"移交后"})", *customer).ok());

  auto report = a.Sync(*server.transport, token_a);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(*sync::PendingRowCount(*a.store) == 0);
  CHECK_FALSE(a.archive->Show("customers", *customer).ok());  // evicted once its writes were up
  // The new owner has the customer and the three visits as reassigned conflict records.
  REQUIRE(b.Sync(*server.transport, token_b).ok());
  CHECK(b.Field(*customer, "name") == "周九");
  auto conflicts = b.store->Prepare("SELECT count(*) FROM conflicts WHERE kind = 'reassigned'");
  REQUIRE(conflicts.ok());
  REQUIRE(*conflicts->Step());
  CHECK(conflicts->Int(0) == 3);
}

TEST_CASE_METHOD(MoveFixture,
                 "a customer deleted with its archive goes up in one batch, however small batches are",
                 "[sync]") {
  // The deletion leaves one tombstone per row. Split over batches, a visit's tombstone
  // could be kept while the customer's own deletion, still waiting, lost to a move to
  // another agent: the new owner got the customer without the visit.
  auto customer = a.archive->Add("customers", R"({"name":"吴十"})");
  REQUIRE(customer.ok());
  auto visit = a.archive->Add("visits", R"({"channel":"visit","outcome":"面谈"})", *customer);
  REQUIRE(visit.ok());
  REQUIRE(a.Sync(*server.transport, token_a).ok());
  REQUIRE(lead.Sync(*server.transport, token_lead).ok());

  REQUIRE(a.archive->Remove("customers", *customer).ok());
  {
    // One round trip, one row per batch, then no signal.
    EagerTransport eager(*server.transport, *a.store);
    eager.lose = 2;
    sync::SyncOptions options;
    options.token = token_a;
    options.push_limit = 1;
    (void)a.Sync(eager, options);
  }
  REQUIRE(lead.archive->Set("customers", *customer, R"({"owner_agent":"agent-2"})").ok());
  REQUIRE(lead.Sync(*server.transport, token_lead).ok());
  REQUIRE(a.Sync(*server.transport, token_a).ok());
  REQUIRE(b.Sync(*server.transport, token_b).ok());
  // The deletion reached the server whole before the move: nobody has the customer.
  CHECK_FALSE(b.archive->Show("customers", *customer).ok());
  CHECK_FALSE(b.archive->Show("visits", *visit).ok());
  REQUIRE(lead.Sync(*server.transport, token_lead).ok());
  CHECK_FALSE(lead.archive->Show("customers", *customer).ok());
}
