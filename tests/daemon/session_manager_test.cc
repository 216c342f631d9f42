// SessionManager in process, on an ideal (noiseless) simulated chip: a
// session interrupted by pause, shutdown and recovery from its checkpoint
// ends with exactly the parameters of an uninterrupted run.
#include "daemon/training/session_manager.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

using photonic::v1::SessionStatus;

using Bench = phc::testing::SimBench;

Bench MakeBench() {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.set_max_total_heater_power_mw(1000);
  return *phc::testing::MakeSimBench(description, 1);
}

photonic::v1::SessionConfig Config() {
  photonic::v1::SessionConfig config;
  config.add_widths(4);
  config.add_widths(4);
  config.set_dataset("synthetic");
  config.set_train_samples(100);
  config.set_test_samples(20);
  config.set_batch_size(8);
  config.set_max_steps(3000);
  config.set_eval_every(500);
  config.set_checkpoint_every(1000);  // only the pause and shutdown checkpoint
  config.set_seed(9);
  config.mutable_algorithm()->set_grad_sparsity(0.3);
  config.mutable_algorithm()->set_param_sparsity(0.2);
  return config;
}

// Waits (on a condition variable, not a sleep) for a session status that
// satisfies `done`.
class StatusWaiter {
 public:
  StatusWaiter(SessionManager& manager, const std::string& id,
               std::function<bool(const SessionStatus&)> done)
      : done_(std::move(done)) {
    EXPECT_TRUE(manager
                    .Watch(id,
                           [this](const SessionStatus& status, bool) {
                             std::lock_guard lock(mu_);
                             if (!reached_ && done_(status)) {
                               reached_ = true;
                               status_ = status;
                               cv_.notify_all();
                             }
                             return !reached_;
                           })
                    .ok());
  }
  SessionStatus Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return reached_; });
    return status_;
  }

 private:
  std::function<bool(const SessionStatus&)> done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false;
  SessionStatus status_;
};

bool Ended(const SessionStatus& s) {
  return s.state() == photonic::v1::SESSION_STATE_COMPLETED ||
         s.state() == photonic::v1::SESSION_STATE_FAILED ||
         s.state() == photonic::v1::SESSION_STATE_CANCELLED;
}

TEST(SessionManagerTest, CheckpointRestartResumesAtTheSameStepWithTheSameParameters) {
  // Uninterrupted.
  Bench straight = MakeBench();
  std::vector<double> straight_phases;
  {
    SessionManager manager(*straight.controller, "", "test");
    auto started = straight.controller->RunSync([&] { return manager.Start(Config()); });
    ASSERT_TRUE(started.ok()) << started.status();
    StatusWaiter end(manager, started->id(), Ended);
    const SessionStatus last = end.Wait();
    EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
    EXPECT_EQ(last.step(), 3000);
    straight_phases =
        straight.controller->RunSync([&] { return straight.controller->GetPhases(); }).phases_rad;
    manager.Shutdown();
  }

  // Paused past step 10, shut down, recovered by a new manager, resumed.
  const std::filesystem::path state_dir =
      std::filesystem::path(::testing::TempDir()) / "session_manager_test";
  std::filesystem::remove_all(state_dir);
  Bench interrupted = MakeBench();
  std::string id;
  std::int64_t paused_at = 0;
  {
    SessionManager manager(*interrupted.controller, state_dir, "test");
    auto started = interrupted.controller->RunSync([&] { return manager.Start(Config()); });
    ASSERT_TRUE(started.ok());
    id = started->id();
    StatusWaiter past10(manager, id, [](const SessionStatus& s) { return s.step() >= 10; });
    past10.Wait();
    auto paused = interrupted.controller->RunSync([&] { return manager.Pause(id); });
    ASSERT_TRUE(paused.ok());
    paused_at = paused->step();
    EXPECT_LT(paused_at, 3000);
    // The lease stays with the paused session.
    EXPECT_FALSE(interrupted.controller
                     ->RunSync([&] { return interrupted.controller->CheckClientMayWrite(); })
                     .ok());
    manager.Shutdown();
  }
  interrupted.controller->RunSync([&] { interrupted.controller->ReleaseWriteLease(); });
  {
    SessionManager manager(*interrupted.controller, state_dir, "test");
    interrupted.controller->RunSync([&] { manager.Recover(); });
    auto recovered = interrupted.controller->RunSync([&] { return manager.Get(id); });
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ(recovered->state(), photonic::v1::SESSION_STATE_PAUSED);
    EXPECT_EQ(recovered->step(), paused_at);
    StatusWaiter end(manager, id, Ended);
    ASSERT_TRUE(interrupted.controller->RunSync([&] { return manager.Resume(id); }).ok());
    const SessionStatus last = end.Wait();
    EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
    EXPECT_EQ(last.step(), 3000);
    manager.Shutdown();
  }
  const std::vector<double> resumed_phases =
      interrupted.controller->RunSync([&] { return interrupted.controller->GetPhases(); })
          .phases_rad;
  ASSERT_EQ(resumed_phases.size(), straight_phases.size());
  for (std::size_t i = 0; i < resumed_phases.size(); ++i) {
    EXPECT_DOUBLE_EQ(resumed_phases[i], straight_phases[i]) << i;
  }
  // Training moved the phases at all (the comparison is not trivially true).
  double moved = 0.0;
  for (double p : straight_phases) moved += std::abs(p);
  EXPECT_GT(moved, 0.1);
}

TEST(SessionManagerTest, SparseSessionStaysWithinItsPowerBudgetAtEveryStep) {
  Bench bench = MakeBench();
  SessionManager manager(*bench.controller, "", "test");
  photonic::v1::SessionConfig config = Config();
  config.set_power_budget_mw(30.0);  // about 1.2 pi of phase in all
  config.set_max_steps(60);
  auto started = bench.controller->RunSync([&] { return manager.Start(config); });
  ASSERT_TRUE(started.ok()) << started.status();
  double worst_mw = 0.0;
  StatusWaiter end(manager, started->id(), [&](const SessionStatus& s) {
    worst_mw = std::max(worst_mw, s.heater_power_mw());
    return Ended(s);
  });
  const SessionStatus last = end.Wait();
  EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
  EXPECT_LE(worst_mw, 30.0);
  EXPECT_GT(last.mean_heater_power_mw(), 0.0);
  manager.Shutdown();
}

// Fashion-MNIST in miniature in `dir`: `count` 28 x 28 images per set,
// image i of label i % 10 with one lit row that depends on its label; plain
// IDX under the .gz names (zlib reads both).
void WriteTinyFashionMnist(const std::filesystem::path& dir, int count) {
  std::filesystem::create_directories(dir);
  auto big_endian = [](std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  for (const std::string prefix : {"train", "t10k"}) {
    std::string images, labels;
    for (std::uint32_t v : {0x803u, static_cast<std::uint32_t>(count), 28u, 28u})
      big_endian(images, v);
    for (std::uint32_t v : {0x801u, static_cast<std::uint32_t>(count)}) big_endian(labels, v);
    for (int i = 0; i < count; ++i) {
      std::string image(28 * 28, '\0');
      for (int c = 0; c < 28; ++c)
        image[(2 * (i % 10) + 1) * 28 + c] = static_cast<char>(100 + i % 50);
      images += image;
      labels.push_back(static_cast<char>(i % 10));
    }
    std::ofstream(dir / (prefix + "-images-idx3-ubyte.gz"), std::ios::binary) << images;
    std::ofstream(dir / (prefix + "-labels-idx1-ubyte.gz"), std::ios::binary) << labels;
  }
}

TEST(SessionManagerTest, FashionMnistIsReadFromTheConfiguredDirectory) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "session_manager_fashion_mnist";
  WriteTinyFashionMnist(dir, 100);
  Bench bench = MakeBench();
  photonic::v1::SessionConfig config = Config();
  config.set_dataset("fashion-mnist");
  config.set_train_samples(20);
  config.set_test_samples(20);
  config.set_max_steps(5);
  config.set_eval_every(5);
  {
    SessionManager manager(*bench.controller, "", "test", dir);
    auto started = bench.controller->RunSync([&] { return manager.Start(config); });
    ASSERT_TRUE(started.ok()) << started.status();
    StatusWaiter end(manager, started->id(), Ended);
    const SessionStatus last = end.Wait();
    EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
    EXPECT_EQ(last.dataset_source(), "fashion-mnist");
    EXPECT_EQ(last.step(), 5);
    manager.Shutdown();
  }
  // A directory without the files: refused up front, naming it.
  const std::filesystem::path missing =
      std::filesystem::path(::testing::TempDir()) / "no-fashion-mnist-here";
  SessionManager manager(*bench.controller, "", "test", missing);
  const absl::Status refused =
      bench.controller->RunSync([&] { return manager.Start(config); }).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find(missing.string()), std::string::npos) << refused;
  manager.Shutdown();
}

}  // namespace
}  // namespace phc::daemon
