#include "callback_transport.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "handle_table.h"

namespace fieldbook::platform {
namespace {

HandleTable<Exchange>& Exchanges() {
  static auto* table = new HandleTable<Exchange>();  // never destroyed: late answers may come until exit
  return *table;
}

}  // namespace

size_t PendingExchangeCount() { return Exchanges().size(); }

Status CompleteExchange(uintptr_t handle, Result<sync::HttpResponse> response) {
  std::shared_ptr<Exchange> exchange = Exchanges().Remove(handle);
  if (!exchange) {
    return Status(ErrorCode::kInvalidArgument,
                  "unknown transport request: it was already answered, timed out or was cancelled");
  }
  MutexLock lock(exchange->mu);
  exchange->response = std::move(response);
  exchange->answered = true;
  exchange->cv.notify_all();
  return Status::Ok();
}

std::string HeadersJson(const sync::HttpRequest& request) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [name, value] : request.headers) {
    w.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

CallbackTransport::CallbackTransport(fieldbook_transport_fn fn, void* context, std::chrono::milliseconds timeout)
    : fn_(fn), context_(context), timeout_(timeout) {}

void CallbackTransport::BeginSync(const std::atomic<bool>* cancel, std::function<void()> unlock,
                                  std::function<void()> relock) {
  MutexLock lock(mu_);
  cancel_ = cancel;
  unlock_ = std::move(unlock);
  relock_ = std::move(relock);
}

void CallbackTransport::EndSync() {
  MutexLock lock(mu_);
  cancel_ = nullptr;
  unlock_ = nullptr;
  relock_ = nullptr;
}

void CallbackTransport::Wake() {
  std::shared_ptr<Exchange> exchange;
  {
    MutexLock lock(mu_);
    exchange = current_;
  }
  if (exchange) {
    MutexLock lock(exchange->mu);
    exchange->cv.notify_all();
  }
}

// One exchange handed to the app. Whatever happens, its handle is forgotten and the
// database lock held again when it ends (Wait, or destruction unwaited).
class CallbackExchange : public sync::PendingExchange {
 public:
  CallbackExchange(CallbackTransport& transport, std::shared_ptr<Exchange> exchange, uintptr_t handle,
                   const std::atomic<bool>* cancel, std::function<void()> unlock, std::function<void()> relock,
                   std::chrono::milliseconds timeout)
      : transport_(transport),
        exchange_(std::move(exchange)),
        handle_(handle),
        cancel_(cancel),
        unlock_(std::move(unlock)),
        relock_(std::move(relock)),
        timeout_(timeout),
        deadline_(std::chrono::steady_clock::now() + timeout) {}
  ~CallbackExchange() override { Finish(); }
  CallbackExchange(const CallbackExchange&) = delete;
  CallbackExchange& operator=(const CallbackExchange&) = delete;

  void Unlock() {
    if (!unlocked_ && unlock_) unlock_();
    unlocked_ = true;
  }
  void Relock() {
    if (unlocked_ && relock_) relock_();
    unlocked_ = false;
  }

  Result<sync::HttpResponse> Wait() override {
    if (finished_) return Status(ErrorCode::kInternal, "this exchange was already collected");
    Unlock();
    Result<sync::HttpResponse> outcome = Await();
    Finish();
    return outcome;
  }

 private:
  Result<sync::HttpResponse> Await() {
    MutexLock lock(exchange_->mu);
    for (;;) {
      if (exchange_->answered) return std::move(exchange_->response);
      if (cancel_ != nullptr && cancel_->load()) {
        return Status(ErrorCode::kCancelled, "sync cancelled while waiting for the server");
      }
      if (std::chrono::steady_clock::now() >= deadline_) {
        return Status(ErrorCode::kTimeout, "no response within " + std::to_string(timeout_.count()) + " ms");
      }
      exchange_->cv.wait_until(exchange_->mu, deadline_);
    }
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    Exchanges().Remove(handle_);
    transport_.Forget(exchange_);
    Relock();
  }

  CallbackTransport& transport_;
  const std::shared_ptr<Exchange> exchange_;
  const uintptr_t handle_;
  const std::atomic<bool>* const cancel_;
  const std::function<void()> unlock_, relock_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::steady_clock::time_point deadline_;
  bool unlocked_ = false;
  bool finished_ = false;
};

void CallbackTransport::Forget(const std::shared_ptr<Exchange>& exchange) {
  MutexLock lock(mu_);
  if (current_ == exchange) current_.reset();
}

std::unique_ptr<CallbackExchange> CallbackTransport::Begin(const sync::HttpRequest& request) {
  auto exchange = std::make_shared<Exchange>();
  const std::atomic<bool>* cancel;
  std::function<void()> unlock, relock;
  {
    MutexLock lock(mu_);
    cancel = cancel_;
    unlock = unlock_;
    relock = relock_;
    current_ = exchange;
  }
  const uintptr_t handle = Exchanges().Add(exchange);
  auto pending = std::make_unique<CallbackExchange>(*this, exchange, handle, cancel, std::move(unlock),
                                                    std::move(relock), timeout_);
  // The app's callback runs without the database lock, as it always has.
  pending->Unlock();
  const std::string headers = HeadersJson(request);
  fn_(context_, request.method.c_str(), request.path.c_str(), headers.c_str(),
      reinterpret_cast<const uint8_t*>(request.body.data()), request.body.size(),
      reinterpret_cast<fieldbook_transport_request*>(handle));
  return pending;
}

Result<sync::HttpResponse> CallbackTransport::Send(const sync::HttpRequest& request) {
  return Begin(request)->Wait();  // the lock stays released from the callback to the answer
}

std::unique_ptr<sync::PendingExchange> CallbackTransport::Start(sync::HttpRequest request) {
  std::unique_ptr<CallbackExchange> pending = Begin(request);
  pending->Relock();  // the caller works on the database while the app's HTTP stack carries the request
  return pending;
}

}  // namespace fieldbook::platform
