#include "callback_transport.h"

#include <catch2/catch.hpp>

#include <thread>

namespace fieldbook::platform {
namespace {

using namespace std::chrono_literals;

// What the transport callback saw, and how the test answers it.
struct App {
  enum class Mode { kAnswerLater, kAnswerInline, kNever } mode = Mode::kAnswerLater;
  std::string method, path, headers, body;
  std::atomic<fieldbook_transport_request*> request{nullptr};
  std::thread worker;
  std::atomic<bool> answer_refused{false};  // Catch2 assertions stay on the test's thread

  ~App() {
    if (worker.joinable()) worker.join();
  }

  static void Send(void* context, const char* method, const char* path, const char* headers, const uint8_t* body,
                   size_t len, fieldbook_transport_request* request) {
    auto* app = static_cast<App*>(context);
    app->method = method;
    app->path = path;
    app->headers = headers;
    app->body.assign(reinterpret_cast<const char*>(body), len);
    app->request = request;
    if (app->mode == Mode::kAnswerInline) {
      if (!CompleteExchange(reinterpret_cast<uintptr_t>(request), sync::HttpResponse{201, "inline"}).ok()) {
        app->answer_refused = true;
      }
    } else if (app->mode == Mode::kAnswerLater) {
      // As OkHttp would: another thread, a little later.
      app->worker = std::thread([app, request] {
        std::this_thread::sleep_for(20ms);
        if (!CompleteExchange(reinterpret_cast<uintptr_t>(request), sync::HttpResponse{200, "later"}).ok()) {
          app->answer_refused = true;
        }
      });
    }
  }
};

sync::HttpRequest Request() {
  sync::HttpRequest r;
  r.path = "/v1/sync";
  r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer \"x\"\n"}};
  r.body = std::string("\x1f\x8b\0gzip", 7);
  return r;
}

TEST_CASE("transport: the request reaches the app as given, the answer comes from another thread") {
  App app;
  CallbackTransport t(&App::Send, &app, 5000ms);
  int unlocks = 0, relocks = 0;
  std::atomic<bool> cancel{false};
  t.BeginSync(&cancel, [&] { ++unlocks; }, [&] { ++relocks; });
  auto response = t.Send(Request());
  t.EndSync();
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->body == "later");
  CHECK(app.method == "POST");
  CHECK(app.path == "/v1/sync");
  CHECK(app.headers == R"({"Content-Type":"application/json","Authorization":"Bearer \"x\"\n"})");
  CHECK(app.body == std::string("\x1f\x8b\0gzip", 7));
  // The database lock is released for the wait and taken back.
  CHECK(unlocks == 1);
  CHECK(relocks == 1);
  CHECK(PendingExchangeCount() == 0);
  app.worker.join();
  CHECK_FALSE(app.answer_refused);
}

TEST_CASE("transport: the app may answer before its callback returns") {
  App app;
  app.mode = App::Mode::kAnswerInline;
  CallbackTransport t(&App::Send, &app, 5000ms);
  auto response = t.Send(Request());
  REQUIRE(response.ok());
  CHECK(response->status == 201);
  CHECK_FALSE(app.answer_refused);
}

TEST_CASE("transport: a request times out, a late or second answer is refused harmlessly") {
  App app;
  app.mode = App::Mode::kNever;
  CallbackTransport t(&App::Send, &app, 50ms);
  auto response = t.Send(Request());
  CHECK(response.status().code() == ErrorCode::kTimeout);
  CHECK(PendingExchangeCount() == 0);
  const Status late = CompleteExchange(reinterpret_cast<uintptr_t>(app.request.load()), sync::HttpResponse{200, ""});
  CHECK(late.code() == ErrorCode::kInvalidArgument);
  CHECK(CompleteExchange(12345, sync::HttpResponse{200, ""}).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("transport: an answer is accepted once") {
  App app;
  app.mode = App::Mode::kNever;
  CallbackTransport t(&App::Send, &app, 5000ms);
  Status first, second;
  std::thread answer([&] {
    while (app.request.load() == nullptr) std::this_thread::sleep_for(1ms);
    first = CompleteExchange(reinterpret_cast<uintptr_t>(app.request.load()), Status(ErrorCode::kUnreachable, "reset"));
    second = CompleteExchange(reinterpret_cast<uintptr_t>(app.request.load()), sync::HttpResponse{200, ""});
  });
  auto response = t.Send(Request());
  answer.join();
  CHECK(first.ok());
  CHECK(second.code() == ErrorCode::kInvalidArgument);
  CHECK(response.status().code() == ErrorCode::kUnreachable);
  CHECK(response.status().message() == "reset");
}

TEST_CASE("transport: cancelling wakes the waiting request at once") {
  App app;
  app.mode = App::Mode::kNever;
  CallbackTransport t(&App::Send, &app, 60000ms);
  std::atomic<bool> cancel{false};
  t.BeginSync(&cancel, nullptr, nullptr);
  std::thread stopper([&] {
    while (PendingExchangeCount() == 0) std::this_thread::sleep_for(1ms);
    cancel.store(true);
    t.Wake();
  });
  const auto before = std::chrono::steady_clock::now();
  auto response = t.Send(Request());
  stopper.join();
  CHECK(response.status().code() == ErrorCode::kCancelled);
  CHECK(std::chrono::steady_clock::now() - before < 10s);
  // Already cancelled: a new request gives up without waiting.
  auto again = t.Send(Request());
  CHECK(again.status().code() == ErrorCode::kCancelled);
  t.EndSync();
}

TEST_CASE("transport: Start hands the request over and returns holding the database lock; Wait releases it") {
  App app;
  CallbackTransport t(&App::Send, &app, 5000ms);
  int unlocks = 0, relocks = 0;
  bool locked = true;
  std::atomic<bool> cancel{false};
  t.BeginSync(&cancel, [&] { ++unlocks, locked = false; }, [&] { ++relocks, locked = true; });
  auto exchange = t.Start(Request());
  // The app has the request (its callback ran without the lock); the sync has the lock back.
  CHECK(app.path == "/v1/sync");
  CHECK(locked);
  CHECK(unlocks == 1);
  auto response = exchange->Wait();
  REQUIRE(response.ok());
  CHECK(response->body == "later");
  CHECK(locked);
  CHECK(unlocks == 2);
  CHECK(relocks == 2);
  CHECK(PendingExchangeCount() == 0);
  CHECK_FALSE(exchange->Wait().ok());  // collected once
  t.EndSync();
  app.worker.join();
  CHECK_FALSE(app.answer_refused);
}

TEST_CASE("transport: a started exchange dropped unwaited is forgotten; its late answer is refused") {
  App app;
  app.mode = App::Mode::kNever;
  CallbackTransport t(&App::Send, &app, 5000ms);
  int unlocks = 0, relocks = 0;
  t.BeginSync(nullptr, [&] { ++unlocks; }, [&] { ++relocks; });
  t.Start(Request()).reset();
  t.EndSync();
  CHECK(unlocks == relocks);
  CHECK(PendingExchangeCount() == 0);
  const Status late = CompleteExchange(reinterpret_cast<uintptr_t>(app.request.load()), sync::HttpResponse{200, ""});
  CHECK(late.code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace fieldbook::platform
