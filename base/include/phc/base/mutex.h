// A mutex that both of our concurrency checkers can see. Clang's
// thread-safety analysis needs a lockable type with annotated lock and
// unlock functions (ABSL_GUARDED_BY members are checked against it);
// ThreadSanitizer needs the locking to go through pthreads, which it
// intercepts. Debian's absl::Mutex is annotated but locks inside an
// uninstrumented library, so TSan would not see its happens-before edges;
// std::mutex goes through pthreads but carries no annotations. This is
// std::mutex with the annotations.
#pragma once

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace phc::base {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mutex_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mutex_.unlock(); }

 private:
  std::mutex mutex_;
};

// Holds `mutex` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mutex) ABSL_EXCLUSIVE_LOCK_FUNCTION(mutex) : mutex_(mutex) {
    mutex_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mutex_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mutex_;
};

}  // namespace phc::base
