// A lock with two kinds of waiter: an urgent one (a short request from a
// client) goes ahead of every background waiter (a long task that takes the
// lock once per step). So a thread that locks and unlocks in a loop cannot
// starve the urgent one: at each unlock the urgent waiter is next.
//
// Built on std::mutex and std::condition_variable, which ThreadSanitizer
// sees, with Clang's thread-safety annotations.
#pragma once

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace phc::base {

class ABSL_LOCKABLE PriorityLock {
 public:
  PriorityLock() = default;
  PriorityLock(const PriorityLock&) = delete;
  PriorityLock& operator=(const PriorityLock&) = delete;

  // Waits only for the holder.
  void LockUrgent() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    std::unique_lock lock(mutex_);
    ++urgent_waiting_;
    free_.wait(lock, [this] { return !held_; });
    --urgent_waiting_;
    held_ = true;
  }

  // Waits for the holder and for every urgent waiter.
  void LockBackground() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    std::unique_lock lock(mutex_);
    ++background_waiting_;
    free_.wait(lock, [this] { return !held_ && urgent_waiting_ == 0; });
    --background_waiting_;
    held_ = true;
  }

  // Threads waiting now, by kind (for tests and monitoring).
  int urgent_waiting() {
    std::lock_guard lock(mutex_);
    return urgent_waiting_;
  }
  int background_waiting() {
    std::lock_guard lock(mutex_);
    return background_waiting_;
  }

  void Unlock() ABSL_UNLOCK_FUNCTION() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    free_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable free_;
  bool held_ = false;
  int urgent_waiting_ = 0;
  int background_waiting_ = 0;
};

}  // namespace phc::base
