// SnapshotCache: chip snapshots for scrapers, without making the hardware
// thread do work per scraper or making a scraper wait behind a long task.
//
// A request gets the last snapshot if it is younger than max_age. Otherwise
// one refresh is posted to the hardware thread (at most one is in flight,
// whatever the number of scrapers) and the request waits for it at most
// max_wait; then it gets the last snapshot there is (possibly none yet).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/metrics/chip_snapshot.h"
#include "phc/base/mutex.h"

namespace phc::daemon {

struct SnapshotCacheOptions {
  std::chrono::milliseconds max_age{100};
  std::chrono::milliseconds max_wait{250};
  // The clock snapshots' ages are judged by (ChipSnapshot::taken's).
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

class SnapshotCache {
 public:
  using Take = std::function<ChipSnapshot()>;  // runs on the hardware thread
  // Called on the request's executor; null before the first snapshot.
  using Done = std::function<void(std::shared_ptr<const ChipSnapshot>)>;

  SnapshotCache(ChipController& controller, Take take, SnapshotCacheOptions options = {});

  // `executor` runs the wait and `done`; it must keep running until `done`
  // was called (it is, at the latest, max_wait after this call).
  void Get(const boost::asio::any_io_executor& executor, Done done);

  // Refreshes posted so far. Thread-safe.
  std::uint64_t refreshes() const;

 private:
  struct Waiter {
    std::shared_ptr<boost::asio::steady_timer> timer;
    Done done;
  };
  void Refresh();  // hardware thread

  ChipController& controller_;
  const Take take_;
  const SnapshotCacheOptions options_;
  mutable phc::base::Mutex mutex_;
  std::shared_ptr<const ChipSnapshot> last_ ABSL_GUARDED_BY(mutex_);
  bool refreshing_ ABSL_GUARDED_BY(mutex_) = false;
  std::uint64_t refreshes_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace phc::daemon
