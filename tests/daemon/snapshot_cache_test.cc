// SnapshotCache: fresh snapshots are reused, an old one costs one refresh
// however many scrapers wait, and a busy hardware thread makes scrapers wait
// no longer than max_wait. Snapshot ages run on an injected clock; only
// max_wait is a real timer.
#include "daemon/metrics/snapshot_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <future>

#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

class SnapshotCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::SimBench> bench = testing::MakeSimBench(testing::IdealMeshChip(4), 1);
    ASSERT_TRUE(bench.ok()) << bench.status();
    bench_ = *std::move(bench);
  }

  std::unique_ptr<SnapshotCache> MakeCache(std::chrono::milliseconds max_wait) {
    return std::make_unique<SnapshotCache>(
        *bench_.controller,
        [this] {
          ChipSnapshot snapshot;
          snapshot.taken = Now();
          snapshot.phases.total_heater_power_mw = ++taken_;  // marks which one it is
          return snapshot;
        },
        SnapshotCacheOptions{.max_age = std::chrono::milliseconds(100),
                             .max_wait = max_wait,
                             .now = [this] { return Now(); }});
  }

  // Runs `gets` requests on one io_context until all are answered.
  std::vector<std::shared_ptr<const ChipSnapshot>> GetAll(SnapshotCache& cache, int gets) {
    boost::asio::io_context io;
    std::vector<std::shared_ptr<const ChipSnapshot>> answers(gets);
    std::vector<bool> answered(gets, false);
    for (int i = 0; i < gets; ++i) {
      cache.Get(io.get_executor(), [&, i](std::shared_ptr<const ChipSnapshot> snapshot) {
        EXPECT_FALSE(answered[i]) << "answered twice";
        answered[i] = true;
        answers[i] = std::move(snapshot);
      });
    }
    io.run();
    for (int i = 0; i < gets; ++i) EXPECT_TRUE(answered[i]) << i;
    return answers;
  }

  std::chrono::steady_clock::time_point Now() const {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(now_ms_.load()));
  }

  testing::SimBench bench_;
  std::atomic<int> taken_{0};
  std::atomic<std::int64_t> now_ms_{1'000'000};
};

TEST_F(SnapshotCacheTest, AFreshSnapshotIsReusedAndAnOldOneRefreshedOnce) {
  std::unique_ptr<SnapshotCache> cache = MakeCache(std::chrono::seconds(30));
  // The refresh runs at once: nobody waits 30 s.
  EXPECT_EQ(GetAll(*cache, 1)[0]->phases.total_heater_power_mw, 1.0);
  now_ms_ += 99;
  EXPECT_EQ(GetAll(*cache, 3)[2]->phases.total_heater_power_mw, 1.0);
  EXPECT_EQ(cache->refreshes(), 1u);
  now_ms_ += 1;  // 100 ms old: refreshed, once for all ten scrapers
  for (const auto& snapshot : GetAll(*cache, 10)) {
    EXPECT_EQ(snapshot->phases.total_heater_power_mw, 2.0);
  }
  EXPECT_EQ(cache->refreshes(), 2u);
}

TEST_F(SnapshotCacheTest, ABusyHardwareThreadCostsAScraperMaxWaitAndOneRefresh) {
  std::unique_ptr<SnapshotCache> cache = MakeCache(std::chrono::milliseconds(20));
  ASSERT_EQ(GetAll(*cache, 1)[0]->phases.total_heater_power_mw, 1.0);
  now_ms_ += 1000;

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocking;
  bench_.controller->Post([released, &blocking] {
    blocking.set_value();
    released.wait();
  });
  blocking.get_future().wait();
  // Everyone gets the old snapshot after max_wait; one refresh is queued.
  for (const auto& snapshot : GetAll(*cache, 50)) {
    ASSERT_NE(snapshot, nullptr);
    EXPECT_EQ(snapshot->phases.total_heater_power_mw, 1.0);
  }
  EXPECT_EQ(cache->refreshes(), 2u);
  release.set_value();
  bench_.controller->RunSync([] {});  // the queued refresh has run

  // Taken at the present (injected) time: fresh, served without a refresh.
  EXPECT_EQ(GetAll(*cache, 1)[0]->phases.total_heater_power_mw, 2.0);
  EXPECT_EQ(cache->refreshes(), 2u);
}

TEST_F(SnapshotCacheTest, BeforeTheFirstSnapshotABlockedScrapeGetsNone) {
  std::unique_ptr<SnapshotCache> cache = MakeCache(std::chrono::milliseconds(20));
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bench_.controller->Post([released] { released.wait(); });
  EXPECT_EQ(GetAll(*cache, 2)[1], nullptr);
  release.set_value();
  bench_.controller->RunSync([] {});
  EXPECT_EQ(GetAll(*cache, 1)[0]->phases.total_heater_power_mw, 1.0);
}

}  // namespace
}  // namespace phc::daemon
