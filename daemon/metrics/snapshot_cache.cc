#include "daemon/metrics/snapshot_cache.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

namespace phc::daemon {

SnapshotCache::SnapshotCache(ChipController& controller, Take take, SnapshotCacheOptions options)
    : controller_(controller), take_(std::move(take)), options_(options) {}

std::uint64_t SnapshotCache::refreshes() const {
  phc::base::MutexLock lock(&mutex_);
  return refreshes_;
}

void SnapshotCache::Get(const boost::asio::any_io_executor& executor, Done done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->done = std::move(done);
  waiter->timer = std::make_shared<boost::asio::steady_timer>(executor, options_.max_wait);
  {
    phc::base::MutexLock lock(&mutex_);
    if (last_ && options_.now() - last_->taken < options_.max_age) {
      boost::asio::post(executor, [done = std::move(waiter->done), last = last_] { done(last); });
      return;
    }
    waiters_.push_back(waiter);
    if (!refreshing_) {
      refreshing_ = true;
      ++refreshes_;
      controller_.Post([this] { Refresh(); });
    }
  }
  // Past max_wait: the waiter leaves with the last snapshot, unless the
  // refresh took it first (then it is no longer listed).
  waiter->timer->async_wait([this, waiter](const boost::system::error_code&) {
    std::shared_ptr<const ChipSnapshot> last;
    {
      phc::base::MutexLock lock(&mutex_);
      auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
      if (it == waiters_.end()) return;
      waiters_.erase(it);
      last = last_;
    }
    waiter->done(std::move(last));
  });
}

void SnapshotCache::Refresh() {
  auto snapshot = std::make_shared<const ChipSnapshot>(take_());
  phc::base::MutexLock lock(&mutex_);
  last_ = snapshot;
  refreshing_ = false;
  // Posted under the lock: a waiter still listed has its timer pending, so
  // its executor is still running.
  for (std::shared_ptr<Waiter>& waiter : waiters_) {
    boost::asio::post(waiter->timer->get_executor(), [waiter, snapshot] {
      waiter->timer->cancel();
      waiter->done(snapshot);
    });
  }
  waiters_.clear();
}

}  // namespace phc::daemon
