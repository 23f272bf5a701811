// Mutex: std::mutex annotated for clang's -Wthread-safety (as LevelDB's port::Mutex), so
// members say which lock guards them and the compiler can check it.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define FB_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FB_THREAD_ANNOTATION(x)
#endif

#define FB_CAPABILITY(x) FB_THREAD_ANNOTATION(capability(x))
#define FB_SCOPED_CAPABILITY FB_THREAD_ANNOTATION(scoped_lockable)
#define FB_GUARDED_BY(x) FB_THREAD_ANNOTATION(guarded_by(x))
#define FB_ACQUIRE(...) FB_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define FB_RELEASE(...) FB_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define FB_REQUIRES(...) FB_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define FB_EXCLUDES(...) FB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define FB_RETURN_CAPABILITY(x) FB_THREAD_ANNOTATION(lock_returned(x))
#define FB_NO_THREAD_SAFETY_ANALYSIS FB_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace fieldbook::platform {

class FB_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void lock() FB_ACQUIRE() { mu_.lock(); }
  void unlock() FB_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class FB_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) FB_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() FB_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Waits on a Mutex the caller holds (condition_variable_any works with any lockable).
using CondVar = std::condition_variable_any;

}  // namespace fieldbook::platform
