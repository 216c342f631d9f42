// The hardware hold: urgent (client) tasks go ahead of long work that holds
// the chip one operation at a time, so reads are served in the middle of a
// calibration running on the worker pool.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "daemon/calibration/calibrator.h"
#include "daemon/chip/chip_controller.h"
#include "phc/base/priority_lock.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

// Spins (yielding) until `done` holds: the waiters' counts are observed, not
// timed.
template <typename Done>
void YieldUntil(Done done) {
  while (!done()) std::this_thread::yield();
}

TEST(PriorityLockTest, AnUrgentWaiterGoesAheadOfABackgroundOneThatWaitedLonger) {
  base::PriorityLock lock;
  std::vector<char> order;
  std::mutex order_mutex;
  auto record = [&](char who) {
    std::lock_guard guard(order_mutex);
    order.push_back(who);
  };
  lock.LockUrgent();  // the holder
  std::thread background([&] {
    lock.LockBackground();
    record('b');
    lock.Unlock();
  });
  YieldUntil([&] { return lock.background_waiting() == 1; });
  std::thread urgent([&] {
    lock.LockUrgent();
    record('u');
    lock.Unlock();
  });
  YieldUntil([&] { return lock.urgent_waiting() == 1; });
  lock.Unlock();
  background.join();
  urgent.join();
  EXPECT_EQ(order, (std::vector<char>{'u', 'b'}));
}

TEST(PriorityLockTest, BackgroundWaitersAllGetTheLockWhenNoUrgentOneWaits) {
  base::PriorityLock lock;
  std::atomic<int> runs{0};
  lock.LockUrgent();
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        lock.LockBackground();
        runs.fetch_add(1, std::memory_order_relaxed);
        lock.Unlock();
      }
    });
  }
  YieldUntil([&] { return lock.background_waiting() == 3; });
  EXPECT_EQ(runs.load(), 0);  // nobody ran while it was held
  lock.Unlock();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(runs.load(), 300);
}

phc::testing::SimBench MakeSimController(const photonic::v1::ChipDescription& chip) {
  absl::StatusOr<phc::testing::SimBench> bench = phc::testing::MakeSimBench(chip, 5);
  EXPECT_TRUE(bench.ok()) << bench.status();
  return *std::move(bench);
}

TEST(HardwareHoldTest, ReadsAreServedInTheMiddleOfACalibrationOnTheWorkerPool) {
  phc::testing::SimBench bench = MakeSimController(phc::testing::IdealMeshChip(4));
  ChipController& controller = *bench.controller;
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> reports{0};
  double first_fraction = 1.0;  // written before `started` is set
  std::promise<absl::StatusOr<photonic::v1::PhaseCalibration>> result;
  controller.PostWork([&] {
    result.set_value(RunCalibration(
        controller, CalibrationOptions{},
        [&](const CalibrationStatus& status) {
          if (reports.fetch_add(1) == 0) {
            first_fraction = status.fraction;
            started.set_value();
            released.wait();  // the calibration stands still mid-run
          }
        },
        nullptr));
  });
  started.get_future().wait();
  // The calibration is in its first sweep, between two of its operations:
  // a client task runs on the hardware thread and reads the chip.
  absl::StatusOr<DetectorReading> reading = controller.RunSync([&] {
    EXPECT_TRUE(controller.OnHardwareThread());
    return controller.ReadDetectors(1);
  });
  ASSERT_TRUE(reading.ok()) << reading.status();
  EXPECT_EQ(reading->photocurrent_ua.size(), 4u);
  EXPECT_FALSE(controller.OnHardwareThread());  // this thread holds nothing
  release.set_value();
  absl::StatusOr<photonic::v1::PhaseCalibration> calibration = result.get_future().get();
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  EXPECT_LT(first_fraction, 0.5);  // it was stopped early in the run
  EXPECT_TRUE(controller.RunSync([&] { return controller.phase_model().calibrated(); }));
}

TEST(HardwareHoldTest, AHoldIsReentrantAndOperationsTakeItThemselves) {
  phc::testing::SimBench bench = MakeSimController(phc::testing::IdealMeshChip(4));
  ChipController& controller = *bench.controller;
  EXPECT_FALSE(controller.OnHardwareThread());
  {
    const ChipController::HardwareHold outer = controller.Hold();
    EXPECT_TRUE(controller.OnHardwareThread());
    {
      const ChipController::HardwareHold inner = controller.Hold();  // no deadlock
      EXPECT_TRUE(controller.ReadDetectors(1).ok());
    }
    EXPECT_TRUE(controller.OnHardwareThread());  // the inner hold did not release it
  }
  EXPECT_FALSE(controller.OnHardwareThread());
  // Off the hardware thread and without a hold, an operation holds it itself.
  const std::vector<double> phases(controller.phase_count(), 0.25);
  absl::StatusOr<PhaseState> state = controller.SetPhases(phases, {});
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_FALSE(controller.OnHardwareThread());
  EXPECT_NEAR(controller.RunSync([&] { return controller.GetPhases().phases_rad[0]; }), 0.25, 1e-3);
}

}  // namespace
}  // namespace phc::daemon
