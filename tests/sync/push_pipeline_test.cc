// Pushing in several batches: the next batch is read and compressed while the one before
// it travels, and becomes the device's batch only once that one is acknowledged.
#include <catch2/catch.hpp>

#include "fieldbook/core/json.h"
#include "fieldbook/sync/change_capture.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

// The server answers each request at Start; Wait then runs `during` (the app writing while
// the request travels) before handing the answer back. `lose` drops one answer after the
// server has committed the request. Each request's batch and changes are noted.
class TravellingTransport : public sync::Transport {
 public:
  explicit TravellingTransport(sync::Transport& next) : next_(next) {}

  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override { return next_.Send(request); }

  std::unique_ptr<sync::PendingExchange> Start(sync::HttpRequest request) override {
    const int n = ++started;
    std::string body = request.body;
    if (sync::LooksGzipped(body)) body = *sync::Gunzip(body, 64u << 20);
    auto decoded = sync::DecodeRequest(body);
    REQUIRE(decoded.ok());
    requests.push_back(std::move(decoded).value());
    Result<sync::HttpResponse> outcome = next_.Send(request);
    if (n == lose) outcome = Status(ErrorCode::kUnreachable, "the answer was lost");
    struct Travelling : sync::PendingExchange {
      Travelling(Result<sync::HttpResponse> o, std::function<void()> d) : outcome(std::move(o)), during(std::move(d)) {}
      Result<sync::HttpResponse> outcome;
      std::function<void()> during;
      Result<sync::HttpResponse> Wait() override {
        if (during) during();
        return std::move(outcome);
      }
    };
    std::function<void()> meanwhile;
    if (during) meanwhile = [this, n] { during(n); };
    return std::make_unique<Travelling>(std::move(outcome), std::move(meanwhile));
  }

  // The value the n-th request carried for a customer's column, if it carried one.
  std::optional<std::string> Carried(size_t n, const std::string& id, const std::string& column) const {
    for (const auto& change : requests.at(n - 1).changes) {
      if (change.id != id) continue;
      for (const auto& cell : change.cells) {
        if (cell.column == column && AsText(cell.value)) return *AsText(cell.value);
      }
    }
    return std::nullopt;
  }

  int started = 0;
  int lose = 0;
  std::function<void(int)> during;  // with the request's number
  std::vector<sync::SyncRequest> requests;

 private:
  sync::Transport& next_;
};

std::vector<std::string> AddCustomers(TestDevice& d, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    auto id = d.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"(","notes":"初"})");
    REQUIRE(id.ok());
    ids.push_back(*id);
  }
  return ids;
}

sync::SyncOptions Batches(const std::string& token, int push_limit) {
  sync::SyncOptions options;
  options.token = token;
  options.push_limit = push_limit;
  options.max_round_trips = 50;
  return options;
}

// A server and an agent's two devices: A pushes, B checks what arrived.
struct Devices {
  TempDir dir;
  TestServer server{dir.File("server.db")};
  TestDevice a{dir.File("a.db"), "agent-1", "team-1"};
  TestDevice b{dir.File("b.db"), "agent-1", "team-1"};
  const std::string token = server.Token("agent-1", "team-1");
};

}  // namespace

TEST_CASE_METHOD(Devices, "push pipeline: the next batch is read while one travels; edits made meanwhile still go up",
                 "[sync]") {
  // Batches of six, the first of two (a third): ids 0-1, then 2-7 (read while the first
  // travels), then 8.
  const std::vector<std::string> ids = AddCustomers(a, 9);

  // While the first batch travels, the second has been read already: the app edits one
  // of its customers, deletes another and adds a new one.
  TravellingTransport travelling(*server.transport);
  std::string added;
  travelling.during = [&](int n) {
    if (n != 1) return;
    REQUIRE(a.archive->Set("customers", ids[3], R"({"notes":"改过"})").ok());
    REQUIRE(a.archive->Remove("customers", ids[4]).ok());
    auto id = a.archive->Add("customers", R"({"name":"后来的"})");
    REQUIRE(id.ok());
    added = *id;
  };
  auto report = a.Sync(travelling, Batches(token, 6));
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK_FALSE(*sync::AnyPending(*a.store));

  // The second request went out as it was read, before the edit; the edit, the deletion
  // and the new customer followed in later batches of the same sync.
  REQUIRE(travelling.started >= 3);
  CHECK(travelling.requests[0].changes.size() == 2);
  CHECK(travelling.requests[1].changes.size() == 6);
  CHECK(travelling.requests[1].batch_id != travelling.requests[0].batch_id);
  CHECK(travelling.Carried(2, ids[3], "notes") == std::optional<std::string>("初"));
  bool edit_went_up = false;
  for (size_t n = 3; n <= travelling.requests.size(); ++n) {
    edit_went_up = edit_went_up || travelling.Carried(n, ids[3], "notes") == std::optional<std::string>("改过");
  }
  CHECK(edit_went_up);

  REQUIRE(b.Sync(*server.transport, token).ok());
  CHECK(b.Field(ids[3], "notes") == "改过");
  CHECK_FALSE(b.archive->Show("customers", ids[4]).ok());
  CHECK(b.Field(added, "name") == "后来的");
  CHECK(b.Field(ids[8], "name") == "客户8");
  CHECK(a.Export() == b.Export());
}

TEST_CASE_METHOD(Devices, "push pipeline: an answer lost after the server applied a batch drops the batch read after it",
                 "[sync]") {
  const std::vector<std::string> ids = AddCustomers(a, 8);

  TravellingTransport lossy(*server.transport);
  lossy.lose = 2;  // the second batch is applied, its answer never comes
  auto cut = a.Sync(lossy, Batches(token, 3));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.status().code() == ErrorCode::kUnreachable);
  REQUIRE(lossy.requests.size() == 2);
  auto state = sync::LoadSyncState(*a.store);
  REQUIRE(state.ok());
  CHECK(state->batch_id == lossy.requests[1].batch_id);  // the third was never adopted

  // The next sync resends the second batch under its id (the server does not apply it
  // twice), then the rest.
  TravellingTransport next(*server.transport);
  auto report = a.Sync(next, Batches(token, 3));
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  REQUIRE_FALSE(next.requests.empty());
  CHECK(next.requests[0].batch_id == lossy.requests[1].batch_id);
  CHECK_FALSE(*sync::AnyPending(*a.store));
  REQUIRE(b.Sync(*server.transport, token).ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(b.Field(ids[i], "name") == "客户" + std::to_string(i));
  CHECK(a.Export() == b.Export());
}

TEST_CASE_METHOD(Devices,
                 "push pipeline: a batch refused for clock skew drops the batch read after it; all go up restamped",
                 "[sync]") {
  // The device's clock runs a day ahead while it captures.
  REQUIRE(sync::SetFixedNow(*a.store, SystemEnv().NowMs() + 24 * 3600 * 1000LL).ok());
  const std::vector<std::string> ids = AddCustomers(a, 7);
  REQUIRE(sync::SetFixedNow(*a.store, std::nullopt).ok());

  TravellingTransport travelling(*server.transport);
  auto report = a.Sync(travelling, Batches(token, 6));
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(report->pushed == 7);
  CHECK_FALSE(*sync::AnyPending(*a.store));
  // The refused first batch was followed by a fresh one, not by the batch read after it.
  REQUIRE(travelling.requests.size() >= 2);
  CHECK(travelling.requests[1].batch_id != travelling.requests[0].batch_id);
  CHECK(travelling.requests[1].changes.size() == 2);
  CHECK(travelling.requests[1].changes[0].id == travelling.requests[0].changes[0].id);
  REQUIRE(b.Sync(*server.transport, token).ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(b.Field(ids[i], "name") == "客户" + std::to_string(i));
  CHECK(a.Export() == b.Export());
}

TEST_CASE_METHOD(Devices,
                 "push pipeline: rows pulled with a batch's answer are kept; a batch read before them pulls again",
                 "[sync]") {
  // A batch read ahead asks from the cursor the device had when it was read. When the
  // answer before it carried rows, its own page starts behind the device and is not
  // taken: the sync must pull once more, or a page (and any eviction in it) is missed.
  auto theirs = b.archive->Add("customers", R"({"name":"别人的"})");
  REQUIRE(theirs.ok());
  REQUIRE(b.Sync(*server.transport, token).ok());
  const std::vector<std::string> ids = AddCustomers(a, 8);  // batches of 2 and 6

  TravellingTransport travelling(*server.transport);
  auto report = a.Sync(travelling, Batches(token, 6));
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  // Two batches, the second read before the first answer came with the other row; then
  // a pull from where the device is.
  REQUIRE(travelling.requests.size() == 3);
  CHECK(travelling.requests[1].cursor == travelling.requests[0].cursor);
  CHECK_FALSE(travelling.requests[1].batch_id.empty());
  CHECK(travelling.requests[2].batch_id.empty());
  CHECK(travelling.requests[2].cursor > travelling.requests[1].cursor);
  CHECK(a.Field(*theirs, "name") == "别人的");
  REQUIRE(b.Sync(*server.transport, token).ok());
  CHECK(a.Export() == b.Export());
}
