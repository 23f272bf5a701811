// HandleTable: the objects behind the C API's opaque handles.
//
// Guarantees:
//  1. A handle is a number from one process-wide counter, never an address and never
//     issued twice; it is looked up, not dereferenced. A NULL, closed or made-up handle
//     finds nothing, so misuse is an error instead of a crash or, worse, a call landing
//     on whichever object now lives at a recycled address.
//  2. Find returns a shared_ptr: an object stays alive for the call that found it even
//     if another thread removes (closes) it meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "mutex.h"

namespace fieldbook::platform {

// Next handle value. Multiples of 16 starting high, so they also look like aligned
// pointers to bindings that check (Swift's OpaquePointer, JNI jlong round trips).
uintptr_t NextHandleValue();

template <typename T>
class HandleTable {
 public:
  uintptr_t Add(std::shared_ptr<T> object) {
    const uintptr_t handle = NextHandleValue();
    MutexLock lock(mu_);
    objects_.emplace(handle, std::move(object));
    return handle;
  }

  std::shared_ptr<T> Find(uintptr_t handle) const {
    MutexLock lock(mu_);
    auto it = objects_.find(handle);
    return it == objects_.end() ? nullptr : it->second;
  }

  // Removes and returns the object (nullptr when the handle is unknown).
  std::shared_ptr<T> Remove(uintptr_t handle) {
    MutexLock lock(mu_);
    auto it = objects_.find(handle);
    if (it == objects_.end()) return nullptr;
    std::shared_ptr<T> object = std::move(it->second);
    objects_.erase(it);
    return object;
  }

  size_t size() const {
    MutexLock lock(mu_);
    return objects_.size();
  }

 private:
  mutable Mutex mu_;
  std::map<uintptr_t, std::shared_ptr<T>> objects_ FB_GUARDED_BY(mu_);
};

}  // namespace fieldbook::platform
