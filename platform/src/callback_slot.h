// CallbackSlot: an app callback that may be replaced or removed while other threads are
// invoking it.
//
// Guarantees:
//  1. Invoke calls the callback set at that moment without holding any lock, so the
//     callback may call back into the library (even Set on this slot).
//  2. Set returns only when no other thread still runs a previous callback: after
//     removing a listener (or closing its handle) the app may free what its context
//     points to. Calls running on the thread calling Set are not waited for (that thread
//     is inside one of them).
#pragma once

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "mutex.h"

namespace fieldbook::platform {

template <typename Callback>  // a copyable struct with `explicit operator bool`
class CallbackSlot {
 public:
  void Set(Callback callback) {
    MutexLock lock(mu_);
    callback_ = std::move(callback);
    const auto self = std::this_thread::get_id();
    while (std::any_of(callers_.begin(), callers_.end(), [&](std::thread::id id) { return id != self; })) {
      cv_.wait(mu_);
    }
  }

  // Calls fn(callback) with the current callback, if any.
  template <typename Fn>
  void Invoke(Fn&& fn) {
    Callback callback;
    {
      MutexLock lock(mu_);
      if (!callback_) return;
      callback = callback_;
      callers_.push_back(std::this_thread::get_id());
    }
    struct Leave {
      CallbackSlot* slot;
      ~Leave() { slot->Left(); }
    } leave{this};
    fn(callback);
  }

 private:
  void Left() {
    MutexLock lock(mu_);
    callers_.erase(std::find(callers_.begin(), callers_.end(), std::this_thread::get_id()));
    cv_.notify_all();
  }

  Mutex mu_;
  CondVar cv_;
  Callback callback_ FB_GUARDED_BY(mu_);
  std::vector<std::thread::id> callers_ FB_GUARDED_BY(mu_);  // threads inside the callback
};

}  // namespace fieldbook::platform
