// The C API's sync: the app-supplied transport, the scheduler and change notifications,
// against the real sync service in process (sync/harness.h) reached through the transport
// callback exactly as an app's HTTP stack would be.
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "c_api_fixture.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;
using namespace std::chrono_literals;

namespace {

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit = 20000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// The app: its network (answering through the in-process server) and what its callbacks
// saw. Catch2 assertions stay on the test's thread; callbacks only record.
struct App {
  enum class Net { kInline, kOtherThread, kNever, kUnreachable };

  explicit App(TestServer& s) : server(s) {}
  ~App() { JoinWorkers(); }

  TestServer& server;
  std::atomic<Net> net{Net::kInline};
  std::atomic<int> sends{0};
  std::mutex mu;
  std::vector<fieldbook_transport_request*> held;  // kNever: requests never answered
  std::vector<std::thread> workers;
  std::vector<int> states;
  std::vector<int> state_errors;
  std::vector<std::string> changes;
  std::vector<std::thread::id> change_threads;
  std::atomic<int> progress{0};
  // Set to make the state callback try what is forbidden there.
  fieldbook_db* close_db_in_callback = nullptr;
  fieldbook_sync* close_sync_in_callback = nullptr;
  std::atomic<int> forbidden_refused{0};
  std::atomic<int> forbidden_allowed{0};

  fieldbook_sync_callbacks Callbacks() {
    fieldbook_sync_callbacks c{};
    c.context = this;
    c.transport = &App::Send;
    c.on_state = &App::OnState;
    c.on_progress = &App::OnProgress;
    return c;
  }

  void JoinWorkers() {
    std::vector<std::thread> w;
    {
      std::lock_guard<std::mutex> lock(mu);
      w.swap(workers);
    }
    for (auto& t : w) t.join();
  }

  static void Answer(TestServer* server, sync::HttpRequest r, fieldbook_transport_request* request) {
    auto response = server->transport->Send(r);
    fieldbook_transport_complete(request, response->status, reinterpret_cast<const uint8_t*>(response->body.data()),
                                 response->body.size(), nullptr);
  }

  static void Send(void* context, const char* method, const char* path, const char* headers_json, const uint8_t* body,
                   size_t body_len, fieldbook_transport_request* request) {
    auto* app = static_cast<App*>(context);
    ++app->sends;
    sync::HttpRequest r;
    r.method = method;
    r.path = path;
    rapidjson::Document headers;
    headers.Parse(headers_json);
    for (auto it = headers.MemberBegin(); it != headers.MemberEnd(); ++it) {
      r.headers.emplace_back(it->name.GetString(), it->value.GetString());
    }
    r.body.assign(reinterpret_cast<const char*>(body), body_len);
    switch (app->net.load()) {
      case Net::kInline:
        Answer(&app->server, std::move(r), request);
        break;
      case Net::kOtherThread: {
        std::lock_guard<std::mutex> lock(app->mu);
        app->workers.emplace_back(&App::Answer, &app->server, std::move(r), request);
        break;
      }
      case Net::kNever: {
        std::lock_guard<std::mutex> lock(app->mu);
        app->held.push_back(request);
        break;
      }
      case Net::kUnreachable:
        fieldbook_transport_fail(request, FIELDBOOK_ERR_UNREACHABLE, "no route to host", nullptr);
        break;
    }
  }

  static void OnState(void* context, int32_t state, const fieldbook_error* error) {
    auto* app = static_cast<App*>(context);
    {
      std::lock_guard<std::mutex> lock(app->mu);
      app->states.push_back(state);
      app->state_errors.push_back(error ? error->code : 0);
    }
    if (state == FIELDBOOK_SYNC_IDLE && (app->close_db_in_callback || app->close_sync_in_callback)) {
      const bool db_closed = app->close_db_in_callback && fieldbook_db_close(app->close_db_in_callback, nullptr);
      const bool sync_closed = app->close_sync_in_callback && fieldbook_sync_close(app->close_sync_in_callback, nullptr);
      const bool stopped = app->close_sync_in_callback && fieldbook_sync_stop(app->close_sync_in_callback, nullptr);
      char* out = nullptr;
      const bool ran = app->close_sync_in_callback && fieldbook_sync_run(app->close_sync_in_callback, &out, nullptr);
      ((db_closed || sync_closed || stopped || ran) ? app->forbidden_allowed : app->forbidden_refused)++;
      app->close_db_in_callback = nullptr;
      app->close_sync_in_callback = nullptr;
    }
  }

  static void OnProgress(void* context, int64_t, int64_t, int64_t, bool) { ++static_cast<App*>(context)->progress; }

  static void OnChange(void* context, const char* json) {
    auto* app = static_cast<App*>(context);
    std::lock_guard<std::mutex> lock(app->mu);
    app->changes.push_back(json);
    app->change_threads.push_back(std::this_thread::get_id());
  }

  int LastState() {
    std::lock_guard<std::mutex> lock(mu);
    return states.empty() ? -1 : states.back();
  }
  int LastStateError() {
    std::lock_guard<std::mutex> lock(mu);
    return state_errors.empty() ? -1 : state_errors.back();
  }
  size_t HeldCount() {
    std::lock_guard<std::mutex> lock(mu);
    return held.size();
  }
  size_t ChangeCount() {
    std::lock_guard<std::mutex> lock(mu);
    return changes.size();
  }
};

// A sync handle closed at the end of the scope.
class Sync {
 public:
  Sync(fieldbook_db* db, App& app, const std::string& options) {
    fieldbook_sync_callbacks callbacks = app.Callbacks();
    Error e;
    const bool ok = fieldbook_sync_open(db, options.c_str(), &callbacks, &sync_, &e);
    INFO(e.Message());
    REQUIRE(ok);
  }
  ~Sync() {
    if (sync_ != nullptr) fieldbook_sync_close(sync_, nullptr);
  }
  fieldbook_sync* get() const { return sync_; }
  void Close() {
    REQUIRE(fieldbook_sync_close(sync_, nullptr));
    sync_ = nullptr;
  }
  rapidjson::Document Run() {
    char* out = nullptr;
    Error e;
    const bool ok = fieldbook_sync_run(sync_, &out, &e);
    INFO(fieldbook_error_code_name(e.code) << ": " << e.Message());
    REQUIRE(ok);
    auto doc = Parse(out);
    fieldbook_free(out);
    return doc;
  }
  Error RunFails() {
    char* out = nullptr;
    Error e;
    REQUIRE_FALSE(fieldbook_sync_run(sync_, &out, &e));
    CHECK(out == nullptr);
    return e;
  }
  rapidjson::Document Status() {
    char* out = nullptr;
    REQUIRE(fieldbook_sync_status(sync_, &out, nullptr));
    auto doc = Parse(out);
    fieldbook_free(out);
    return doc;
  }

 private:
  fieldbook_sync* sync_ = nullptr;
};

std::string Options(const std::string& token, const std::string& extra = "") {
  return R"({"token":")" + token + R"(")" + (extra.empty() ? "" : "," + extra) + "}";
}

}  // namespace

TEST_CASE("c api sync: a customer added on one device reaches another through the app's transport") {
  const bool threaded = GENERATE(false, true);
  INFO((threaded ? "answered from another thread" : "answered inside the callback"));
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  App app(server);
  app.net = threaded ? App::Net::kOtherThread : App::Net::kInline;
  Db a(dir.File("a.db")), b(dir.File("b.db"));
  REQUIRE(fieldbook_db_set_change_listener(b.get(), &App::OnChange, &app, nullptr));
  const std::string id = a.AddCustomer(R"({"name":"张三","notes":"🎣"})");

  Sync sa(a.get(), app, Options(token)), sb(b.get(), app, Options(token));
  CHECK(sa.Status()["pending_rows"].GetInt() == 1);
  auto pushed = sa.Run();
  CHECK(pushed["pushed"].GetInt() == 1);
  CHECK(sa.Status()["pending_rows"].GetInt() == 0);
  CHECK(sa.Status()["last_report"]["pushed"].GetInt() == 1);
  auto pulled = sb.Run();
  CHECK(pulled["pulled"].GetInt() >= 1);
  CHECK(app.progress.load() >= 2);

  auto shown = Parse(b.Call("customer.show", R"({"id":")" + id + R"("})"));
  CHECK(std::string(shown["name"].GetString()) == "张三");
  CHECK(std::string(shown["notes"].GetString()) == "🎣");
  // B was told, on the thread that ran the sync.
  REQUIRE(app.ChangeCount() >= 1);
  auto change = Parse(app.changes.back());
  CHECK(std::string(change["origin"].GetString()) == "remote");
  CHECK(change["tables"]["customers"]["inserted"].GetInt() == 1);
  CHECK(app.change_threads.back() == std::this_thread::get_id());
  CHECK(a.Call("export") == b.Call("export"));
  app.JoinWorkers();
}

TEST_CASE("c api sync: a pull in small pages, each asked of the app's network before the last is written") {
  const bool threaded = GENERATE(false, true);
  INFO((threaded ? "answered from another thread" : "answered inside the callback"));
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  App app(server);
  app.net = threaded ? App::Net::kOtherThread : App::Net::kInline;
  Db a(dir.File("a.db")), b(dir.File("b.db"));
  for (int i = 0; i < 15; ++i) a.AddCustomer(R"({"name":"客户)" + std::to_string(i) + R"("})");
  Sync sa(a.get(), app, Options(token)), sb(b.get(), app, Options(token, R"("page_limit":2)"));
  CHECK(sa.Run()["pushed"].GetInt() == 15);
  app.JoinWorkers();
  const int sends_before = app.sends.load();
  auto pulled = sb.Run();
  CHECK(pulled["pulled"].GetInt() == 15);
  CHECK(pulled["round_trips"].GetInt() == 8);
  CHECK(app.sends.load() - sends_before == 8);
  CHECK(a.Call("export") == b.Call("export"));
  app.JoinWorkers();
}

TEST_CASE("c api sync: the scheduler syncs at start and again after local writes, debounced") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  App app(server);
  Db a(dir.File("a.db")), b(dir.File("b.db"));
  Sync sa(a.get(), app, Options(token, R"("debounce_ms":50,"periodic_ms":0)"));
  Sync sb(b.get(), app, Options(token));
  CHECK(std::string(sa.Status()["state"].GetString()) == "stopped");
  REQUIRE(fieldbook_sync_start(sa.get(), nullptr));
  Error e;
  CHECK_FALSE(fieldbook_sync_start(sa.get(), &e));
  CHECK(e.code == FIELDBOOK_ERR_ALREADY_INITIALIZED);
  REQUIRE(Eventually([&] { return app.sends.load() >= 1 && app.LastState() == FIELDBOOK_SYNC_IDLE; }));

  const int before = app.sends.load();
  for (int i = 0; i < 5; ++i) a.AddCustomer(R"({"name":"客户)" + std::to_string(i) + R"("})");
  REQUIRE(Eventually([&] {
    auto s = sa.Status();
    return s["pending_rows"].GetInt() == 0 && std::string(s["state"].GetString()) == "idle";
  }));
  // Five quick writes, one sync (a round trip or two), not five.
  CHECK(app.sends.load() - before <= 2);
  CHECK(sb.Run()["pulled"].GetInt() == 5);

  REQUIRE(fieldbook_sync_stop(sa.get(), nullptr));
  CHECK(app.LastState() == FIELDBOOK_SYNC_STOPPED);
  CHECK(std::string(sa.Status()["state"].GetString()) == "stopped");
  REQUIRE(fieldbook_sync_stop(sa.get(), nullptr));  // idempotent
}

TEST_CASE("c api sync: an unreachable server backs off with the error reported, connectivity brings it back") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  App app(server);
  app.net = App::Net::kUnreachable;
  Db a(dir.File("a.db"));
  a.AddCustomer(R"({"name":"张三"})");
  Sync sa(a.get(), app,
          Options(server.Token("agent-1", "team-1"), R"("backoff_min_ms":20,"backoff_max_ms":40,"periodic_ms":0)"));
  REQUIRE(fieldbook_sync_start(sa.get(), nullptr));
  REQUIRE(Eventually([&] { return app.sends.load() >= 3; }));  // retried, with backoff
  auto status = sa.Status();
  CHECK(status["failures"].GetInt() >= 2);
  CHECK(std::string(status["last_error"]["name"].GetString()) == "unreachable");
  CHECK(std::string(status["last_error"]["message"].GetString()).find("no route to host") != std::string::npos);
  CHECK(status["pending_rows"].GetInt() == 1);  // nothing lost
  CHECK(app.LastStateError() == FIELDBOOK_ERR_UNREACHABLE);

  REQUIRE(fieldbook_sync_set_online(sa.get(), false, nullptr));
  REQUIRE(Eventually([&] { return app.LastState() == FIELDBOOK_SYNC_OFFLINE; }));
  const int offline_sends = app.sends.load();
  std::this_thread::sleep_for(100ms);
  CHECK(app.sends.load() == offline_sends);  // no attempts while offline

  app.net = App::Net::kInline;
  REQUIRE(fieldbook_sync_set_online(sa.get(), true, nullptr));
  REQUIRE(Eventually([&] { return sa.Status()["pending_rows"].GetInt() == 0 && app.LastState() == FIELDBOOK_SYNC_IDLE; }));
  CHECK(sa.Status()["failures"].GetInt() == 0);
  CHECK(sa.Status()["last_error"].IsNull());
  CHECK(app.LastStateError() == 0);
}

TEST_CASE("c api sync: stop cancels a request in flight, its late answer is refused harmlessly") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  App app(server);
  app.net = App::Net::kNever;
  Db a(dir.File("a.db"));
  Sync sa(a.get(), app, Options(server.Token("agent-1", "team-1")));
  REQUIRE(fieldbook_sync_start(sa.get(), nullptr));
  REQUIRE(Eventually([&] { return app.HeldCount() == 1; }));
  CHECK(std::string(sa.Status()["state"].GetString()) == "syncing");
  CHECK(fieldbook_handle_count() == 3);  // the database, the sync and the request

  // The database stays usable while the sync waits on the network.
  const auto before = std::chrono::steady_clock::now();
  a.AddCustomer(R"({"name":"张三"})");
  CHECK(std::chrono::steady_clock::now() - before < 5s);

  REQUIRE(fieldbook_sync_stop(sa.get(), nullptr));
  CHECK(std::chrono::steady_clock::now() - before < 10s);
  CHECK(app.LastState() == FIELDBOOK_SYNC_STOPPED);
  CHECK(sa.Status()["failures"].GetInt() == 0);  // cancelled is not failed
  Error e;
  CHECK_FALSE(fieldbook_transport_complete(app.held[0], 200, nullptr, 0, &e));
  CHECK(e.code == FIELDBOOK_ERR_INVALID_ARGUMENT);
  CHECK(fieldbook_handle_count() == 2);
}

TEST_CASE("c api sync: a request that is never answered times out") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  App app(server);
  app.net = App::Net::kNever;
  Db a(dir.File("a.db"));
  Sync sa(a.get(), app, Options(server.Token("agent-1", "team-1"), R"("request_timeout_ms":50)"));
  Error e = sa.RunFails();
  CHECK(e.code == FIELDBOOK_ERR_TIMEOUT);
  CHECK(e.domain == FIELDBOOK_DOMAIN_NETWORK);
}

TEST_CASE("c api sync: closing the database stops its sync, the sync handle then only closes") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  App app(server);
  app.net = App::Net::kNever;
  Db a(dir.File("a.db"));
  Sync sa(a.get(), app, Options(server.Token("agent-1", "team-1")));
  REQUIRE(fieldbook_sync_start(sa.get(), nullptr));
  REQUIRE(Eventually([&] { return app.HeldCount() == 1; }));
  a.Close();
  CHECK(app.LastState() == FIELDBOOK_SYNC_STOPPED);
  Error e;
  CHECK_FALSE(fieldbook_sync_start(sa.get(), &e));
  CHECK(e.code == FIELDBOOK_ERR_INVALID_ARGUMENT);
  CHECK_FALSE(fieldbook_sync_request(sa.get(), &e));
  char* out = nullptr;
  CHECK_FALSE(fieldbook_sync_status(sa.get(), &out, &e));
  sa.Close();
}

TEST_CASE("c api sync: one sync per database, a profile is needed, the token is checked and can change") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  App app(server);
  Db a(dir.File("a.db"));
  Sync sa(a.get(), app, "{}");  // no token yet
  fieldbook_sync* second = nullptr;
  fieldbook_sync_callbacks callbacks = app.Callbacks();
  Error e;
  CHECK_FALSE(fieldbook_sync_open(a.get(), nullptr, &callbacks, &second, &e));
  CHECK(e.code == FIELDBOOK_ERR_ALREADY_INITIALIZED);
  callbacks.transport = nullptr;
  Db c(dir.File("c.db"));
  CHECK_FALSE(fieldbook_sync_open(c.get(), nullptr, &callbacks, &second, &e));
  CHECK(e.Field() == "callbacks->transport");
  CHECK_FALSE(fieldbook_sync_open(c.get(), R"({"page_limit":0})", &callbacks, &second, &e));
  CHECK_FALSE(fieldbook_sync_open(c.get(), R"({"debounce_ms":"soon"})", &callbacks, &second, &e));
  CHECK(e.Field() == "debounce_ms");
  CHECK_FALSE(fieldbook_sync_set_token(sa.get(), nullptr, &e));

  a.AddCustomer(R"({"name":"张三"})");
  e = sa.RunFails();
  CHECK(e.domain == FIELDBOOK_DOMAIN_AUTH);
  REQUIRE(fieldbook_sync_set_token(sa.get(), server.Token("agent-1", "team-1").c_str(), nullptr));
  CHECK(sa.Run()["pushed"].GetInt() == 1);

  Db no_profile(dir.File("n.db"), nullptr);
  Sync sn(no_profile.get(), app, Options(server.Token("agent-1", "team-1")));
  CHECK(sn.RunFails().code == FIELDBOOK_ERR_NOT_INITIALIZED);
}

TEST_CASE("c api sync: a callback may not close or stop its own sync or database") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  App app(server);
  Db a(dir.File("a.db"));
  Sync sa(a.get(), app, Options(server.Token("agent-1", "team-1")));
  app.close_db_in_callback = a.get();
  app.close_sync_in_callback = sa.get();
  REQUIRE(fieldbook_sync_start(sa.get(), nullptr));
  REQUIRE(Eventually([&] { return app.forbidden_refused.load() + app.forbidden_allowed.load() == 1; }));
  CHECK(app.forbidden_refused.load() == 1);
  REQUIRE(fieldbook_sync_stop(sa.get(), nullptr));
}

TEST_CASE("c api sync: concurrent edits become a conflict that is listed and resolved through the API") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  App app(server);
  Db a(dir.File("a.db")), b(dir.File("b.db"));
  Sync sa(a.get(), app, Options(token)), sb(b.get(), app, Options(token));
  const std::string id = a.AddCustomer(R"({"name":"张三"})");
  sa.Run();
  sb.Run();
  a.Call("customer.set", R"({"id":")" + id + R"(","value_tier":"high"})");
  b.Call("customer.set", R"({"id":")" + id + R"(","value_tier":"potential"})");
  sa.Run();
  CHECK(sb.Run()["conflicts"].GetInt() == 1);
  sa.Run();

  auto open = Parse(a.Call("conflicts.list"));
  REQUIRE(open.Size() == 1);
  const std::string conflict = open[0]["id"].GetString();
  CHECK(std::string(open[0]["col"].GetString()) == "value_tier");
  a.Call("conflicts.resolve", R"({"id":")" + conflict + R"(","value":"general"})");
  CHECK(Parse(a.Call("conflicts.list")).Size() == 0);
  CHECK(Parse(a.Call("conflicts.list", R"({"all":true})")).Size() == 1);
  CHECK(std::string(Parse(a.Call("customer.show", R"({"id":")" + id + R"("})"))["value_tier"].GetString()) ==
        "general");
  sa.Run();
  sb.Run();
  CHECK(a.Call("export") == b.Call("export"));
}

TEST_CASE("c api sync: a visit photo put on one device is fetched lazily on another and verified") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  const std::string token = server.Token("agent-1", "team-1");
  App app(server);
  Db a(dir.File("a.db")), b(dir.File("b.db"));
  std::string photo(300 * 1024, '\0');
  for (size_t i = 0; i < photo.size(); ++i) photo[i] = static_cast<char>((i * 131) ^ (i >> 7));
  WriteFile(dir.File("photo.jpg"), photo);

  auto put = Parse(a.Call("blob.put", R"({"path":")" + dir.File("photo.jpg") + R"("})"));
  const std::string sha = put["sha256"].GetString();
  CHECK(put["size"].GetInt64() == static_cast<int64_t>(photo.size()));
  const std::string customer = a.AddCustomer(R"({"name":"张三"})");
  a.Call("visit.add", R"({"customer_id":")" + customer +
                          R"(","visited_at":"2026-05-01T10:00:00Z","channel":"visit","photos":[")" + sha + R"("]})");
  // Held on A: served locally without a network.
  Sync sa(a.get(), app, Options(token));
  {
    char* out = nullptr;
    Error e;
    REQUIRE(fieldbook_sync_fetch_blob(sa.get(), sha.c_str(), dir.File("a-copy.jpg").c_str(), &out, &e));
    auto got = Parse(out);
    fieldbook_free(out);
    CHECK(std::string(got["source"].GetString()) == "local");
    CHECK(ReadFile(dir.File("a-copy.jpg")) == photo);
  }
  sa.Run();  // uploads the photo, then pushes the visit naming it

  Sync sb(b.get(), app, Options(token));
  sb.Run();
  // B has the visit but not the bytes until asked.
  Error missing = b.Fail("blob.get", R"({"sha256":")" + sha + R"(","path":")" + dir.File("b.jpg") + R"("})");
  CHECK(missing.code == FIELDBOOK_ERR_NOT_FOUND);
  char* out = nullptr;
  Error e;
  REQUIRE(fieldbook_sync_fetch_blob(sb.get(), sha.c_str(), dir.File("b.jpg").c_str(), &out, &e));
  auto got = Parse(out);
  fieldbook_free(out);
  CHECK(std::string(got["source"].GetString()) == "server");
  CHECK(ReadFile(dir.File("b.jpg")) == photo);
  // Kept: the method now finds it on the device.
  auto local = Parse(b.Call("blob.get", R"({"sha256":")" + sha + R"(","path":")" + dir.File("b2.jpg") + R"("})"));
  CHECK(std::string(local["source"].GetString()) == "local");
  CHECK(ReadFile(dir.File("b2.jpg")) == photo);

  // Bad input is refused by name; a hash nobody uploaded is not found.
  CHECK_FALSE(fieldbook_sync_fetch_blob(sb.get(), "nothex", dir.File("x").c_str(), &out, &e));
  CHECK(e.code == FIELDBOOK_ERR_INVALID_ARGUMENT);
  CHECK_FALSE(fieldbook_sync_fetch_blob(sb.get(), nullptr, dir.File("x").c_str(), &out, &e));
  CHECK(e.code == FIELDBOOK_ERR_INVALID_ARGUMENT);
  const std::string unknown(64, 'a');
  CHECK_FALSE(fieldbook_sync_fetch_blob(sb.get(), unknown.c_str(), dir.File("x").c_str(), &out, &e));
  CHECK(e.code == FIELDBOOK_ERR_NOT_FOUND);
  CHECK(out == nullptr);
  Error no_file = a.Fail("blob.put", R"({"path":")" + dir.File("no-such-file") + R"("})");
  CHECK(no_file.code == FIELDBOOK_ERR_NOT_FOUND);
  app.JoinWorkers();
}
