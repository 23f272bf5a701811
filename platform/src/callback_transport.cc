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

Result<sync::HttpResponse> CallbackTransport::Send(const sync::HttpRequest& request) {
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
  // Whatever happens below, the exchange is forgotten and the database lock retaken.
  struct Cleanup {
    CallbackTransport* self;
    uintptr_t handle;
    std::function<void()>& relock;
    ~Cleanup() {
      Exchanges().Remove(handle);
      {
        MutexLock lock(self->mu_);
        self->current_.reset();
      }
      if (relock) relock();
    }
  } cleanup{this, handle, relock};
  if (unlock) unlock();

  const std::string headers = HeadersJson(request);
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  fn_(context_, request.method.c_str(), request.path.c_str(), headers.c_str(),
      reinterpret_cast<const uint8_t*>(request.body.data()), request.body.size(),
      reinterpret_cast<fieldbook_transport_request*>(handle));

  MutexLock lock(exchange->mu);
  for (;;) {
    if (exchange->answered) return std::move(exchange->response);
    if (cancel != nullptr && cancel->load()) {
      return Status(ErrorCode::kCancelled, "sync cancelled while waiting for the server");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(ErrorCode::kTimeout, "no response within " + std::to_string(timeout_.count()) + " ms");
    }
    exchange->cv.wait_until(exchange->mu, deadline);
  }
}

}  // namespace fieldbook::platform
