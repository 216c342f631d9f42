// The chip's exclusive client write lease: one holder at a time, with a
// time to live, renewable, released explicitly or by lapsing. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "phc/base/mutex.h"

namespace phc::daemon {

struct LeaseInfo {
  bool held = false;
  std::string lease_id;
  std::string holder;
  double expires_in_seconds = 0.0;
};

class LeaseManager {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr double kMaxTtlSeconds = 3600.0;

  explicit LeaseManager(Clock clock = [] { return std::chrono::steady_clock::now(); });

  // A new lease, or the present one renewed when lease_id is its id.
  // INVALID_ARGUMENT for a bad holder or TTL; FAILED_PRECONDITION naming the
  // holder while someone else's lease is live.
  absl::StatusOr<LeaseInfo> Acquire(const std::string& holder, double ttl_seconds,
                                    const std::string& lease_id);
  // NOT_FOUND unless lease_id is the live lease.
  absl::StatusOr<LeaseInfo> Release(const std::string& lease_id);
  // The live lease without its id.
  LeaseInfo Current() const;
  // OK when no lease is live or lease_id is the live one; else
  // FAILED_PRECONDITION naming the holder.
  absl::Status CheckWrite(std::string_view lease_id) const;

 private:
  bool LiveLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock clock_;
  mutable phc::base::Mutex mu_;
  std::string id_ ABSL_GUARDED_BY(mu_);
  std::string holder_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point expires_ ABSL_GUARDED_BY(mu_);
  std::uint64_t counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace phc::daemon
