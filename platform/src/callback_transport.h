// CallbackTransport: sync::Transport over the app's HTTP stack (fieldbook_transport_fn).
//
// Send hands the request to the app's callback with a completion handle and blocks the
// sync thread until the app answers (fieldbook_transport_complete / _fail, from any
// thread, possibly before the callback returns), the request times out, or the sync is
// cancelled.
//
// Guarantees:
//  1. Each exchange is answered at most once. Its handle is a HandleTable token: an answer
//     after a timeout or cancellation, a second answer, or a made-up handle fails with
//     kInvalidArgument and touches nothing.
//  2. While it waits, Send releases the lock the sync holds on the database (the
//     `unlock`/`relock` pair given to BeginSync), so the app keeps using the database
//     during network round trips; it holds it again when Send returns. Start calls the
//     app's callback the same way but returns holding the lock (the sync writes the page
//     it has meanwhile); its Wait releases it until the answer.
//  3. Cancellation: the flag given to BeginSync is checked under the exchange's mutex
//     before every wait and Wake() notifies under the same mutex, so a cancel is never
//     missed; the sync then gets kCancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "fieldbook/fieldbook.h"
#include "fieldbook/sync/client.h"
#include "mutex.h"

namespace fieldbook::platform {

// One request waiting for the app's answer.
struct Exchange {
  Mutex mu;
  CondVar cv;
  bool answered FB_GUARDED_BY(mu) = false;
  Result<sync::HttpResponse> response FB_GUARDED_BY(mu) = Status(ErrorCode::kInternal, "no answer yet");
};

// Exchanges waiting for an answer (for fieldbook_handle_count).
size_t PendingExchangeCount();

// Answers the exchange behind a fieldbook_transport_request handle.
Status CompleteExchange(uintptr_t handle, Result<sync::HttpResponse> response);

class CallbackExchange;

class CallbackTransport : public sync::Transport {
 public:
  CallbackTransport(fieldbook_transport_fn fn, void* context, std::chrono::milliseconds timeout);

  // For the duration of one sync: the cancel flag, and how to release and retake the
  // database lock around waits. EndSync forgets them.
  void BeginSync(const std::atomic<bool>* cancel, std::function<void()> unlock, std::function<void()> relock);
  void EndSync();
  // Makes a waiting Send re-check its cancel flag.
  void Wake();

  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override;
  // Hands the request to the app's callback (without the database lock) and returns with
  // the lock held again, so the sync applies its last page while the app's HTTP stack
  // works; Wait releases the lock until the answer, as Send does.
  std::unique_ptr<sync::PendingExchange> Start(sync::HttpRequest request) override;

 private:
  friend class CallbackExchange;
  std::unique_ptr<CallbackExchange> Begin(const sync::HttpRequest& request);
  void Forget(const std::shared_ptr<Exchange>& exchange);

  const fieldbook_transport_fn fn_;
  void* const context_;
  const std::chrono::milliseconds timeout_;

  Mutex mu_;
  const std::atomic<bool>* cancel_ FB_GUARDED_BY(mu_) = nullptr;
  std::function<void()> unlock_ FB_GUARDED_BY(mu_);
  std::function<void()> relock_ FB_GUARDED_BY(mu_);
  std::shared_ptr<Exchange> current_ FB_GUARDED_BY(mu_);
};

// {"Name": "value", ...} for the transport callback.
std::string HeadersJson(const sync::HttpRequest& request);

}  // namespace fieldbook::platform
