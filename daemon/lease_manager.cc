#include "daemon/lease_manager.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"

namespace phc::daemon {

LeaseManager::LeaseManager(Clock clock) : clock_(std::move(clock)) {}

bool LeaseManager::LiveLocked() const { return !id_.empty() && clock_() < expires_; }

std::string LeaseManager::NewId() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> digits;
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "L%llu-%016llx", static_cast<unsigned long long>(++counter_),
                static_cast<unsigned long long>(digits(device)));
  return buffer;
}

absl::StatusOr<LeaseInfo> LeaseManager::Acquire(const std::string& holder, double ttl_seconds,
                                                const std::string& lease_id) {
  if (holder.empty() || holder.size() > 200) {
    return absl::InvalidArgumentError("holder must name who holds the lease (1-200 characters)");
  }
  if (!(ttl_seconds > 0.0 && ttl_seconds <= kMaxTtlSeconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl_seconds = ", ttl_seconds, " is not in (0, ", kMaxTtlSeconds, "]"));
  }
  phc::base::MutexLock lock(&mu_);
  const bool live = LiveLocked();
  if (live && lease_id != id_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the chip is leased to ", holder_, " for another ",
                     std::chrono::duration<double>(expires_ - clock_()).count(), " s"));
  }
  if (!live && !lease_id.empty()) {
    return absl::NotFoundError(absl::StrCat("lease ", lease_id, " has lapsed or was released"));
  }
  if (!live) id_ = NewId();
  holder_ = holder;
  expires_ = clock_() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(ttl_seconds));
  return LeaseInfo{true, id_, holder_, ttl_seconds};
}

absl::StatusOr<LeaseInfo> LeaseManager::Release(const std::string& lease_id) {
  phc::base::MutexLock lock(&mu_);
  if (!LiveLocked() || lease_id != id_) {
    return absl::NotFoundError("no such live lease (lapsed, released, or another holder's)");
  }
  id_.clear();
  holder_.clear();
  return LeaseInfo{};
}

LeaseInfo LeaseManager::Current() const {
  phc::base::MutexLock lock(&mu_);
  if (!LiveLocked()) return {};
  return {true, "", holder_, std::chrono::duration<double>(expires_ - clock_()).count()};
}

absl::Status LeaseManager::CheckWrite(std::string_view lease_id) const {
  phc::base::MutexLock lock(&mu_);
  if (!LiveLocked() || lease_id == id_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the chip is leased to ", holder_,
                   "; send its lease id (x-photonicd-lease) or "
                   "wait for ",
                   std::chrono::duration<double>(expires_ - clock_()).count(), " s"));
}

}  // namespace phc::daemon
