// SessionManager in process, on an ideal (noiseless) simulated chip: a
// session interrupted by pause, shutdown and recovery from its checkpoint
// ends with exactly the parameters of an uninterrupted run. And its
// trainers (session_trainers.h) for every algorithm family: a run's
// checkpoint survives photonic.v1.SessionCheckpoint and back, and the chip
// time and heater energy a session reports leave out its data loading.
#include "daemon/training/session_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/training/session_trainers.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/spdlog.h"
#include "tests/sim_bench.h"
#include "tests/small_sessions.h"
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
  interrupted.controller->RunSync(
      [&] { interrupted.controller->ReleaseWriteLease(WriteLeaseHolder::TrainingSession(id)); });
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

// A checkpoint that cannot be written (here "sessions" is a file, not a
// directory; in the soak, a full disk) shows in the session's status, the
// session goes on, and the error clears once a checkpoint is written again.
TEST(SessionManagerTest, ACheckpointThatCannotBeWrittenShowsInTheStatusUntilOneIs) {
  const std::filesystem::path state_dir =
      std::filesystem::path(::testing::TempDir()) / "checkpoint_error_test";
  std::filesystem::remove_all(state_dir);
  std::filesystem::create_directories(state_dir);
  std::ofstream(state_dir / "sessions") << "in the way";
  Bench bench = MakeBench();
  SessionManager manager(*bench.controller, state_dir, "test");
  photonic::v1::SessionConfig config = Config();
  config.set_max_steps(100000);
  config.set_checkpoint_every(5);
  auto started = bench.controller->RunSync([&] { return manager.Start(config); });
  ASSERT_TRUE(started.ok()) << started.status();
  StatusWaiter failing(manager, started->id(),
                       [](const SessionStatus& s) { return !s.checkpoint_error().empty(); });
  const SessionStatus failed = failing.Wait();
  EXPECT_EQ(failed.state(), photonic::v1::SESSION_STATE_RUNNING);
  EXPECT_NE(failed.checkpoint_error().find("sessions"), std::string::npos)
      << failed.checkpoint_error();

  std::filesystem::remove(state_dir / "sessions");
  StatusWaiter written(manager, started->id(), [&](const SessionStatus& s) {
    return s.checkpoint_error().empty() && s.step() > failed.step() + 10;
  });
  const SessionStatus recovered = written.Wait();
  EXPECT_EQ(recovered.state(), photonic::v1::SESSION_STATE_RUNNING);
  EXPECT_TRUE(std::filesystem::exists(state_dir / "sessions" / (started->id() + ".binpb")));
  ASSERT_TRUE(bench.controller->RunSync([&] { return manager.Cancel(started->id()); }).ok());
  manager.Shutdown();
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
  // The status carries the chip's temperature, as the TEC reads it.
  ASSERT_TRUE(last.has_temperature_c());
  EXPECT_EQ(last.temperature_c(), bench.sim->temperature_c());
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

// A small session of each algorithm family on the 4-mode mesh, every
// default filled in.
photonic::v1::SessionConfig FamilyConfig(const std::string& name) {
  photonic::v1::SessionConfig c = phc::testing::SmallSessionConfig(name);
  c.mutable_algorithm()->set_prediction_warmup_steps(3);
  c.set_max_steps(12);
  c.set_eval_every(4);
  return WithDefaults(c);
}

// Every heater of the bench's mesh at 1 rad: about 100 mW in all.
double HeatersOn(Bench& bench) {
  return bench.controller->RunSync([&] {
    const std::vector<double> phases(bench.controller->phase_count(), 1.0);
    absl::StatusOr<PhaseState> state = bench.controller->SetPhases(phases, {});
    EXPECT_TRUE(state.ok()) << state.status();
    return bench.controller->GetPhases().total_heater_power_mw;
  });
}

std::unique_ptr<SessionTrainer> MakeTrainer(
    Bench& bench, const photonic::v1::SessionConfig& config,
    const photonic::v1::SessionCheckpoint* resume_from = nullptr) {
  SessionStatus status;
  status.set_id("t");
  absl::StatusOr<std::unique_ptr<SessionTrainer>> trainer = bench.controller->RunSync(
      [&] { return MakeSessionTrainer(*bench.controller, config, resume_from, status); });
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return trainer.ok() ? *std::move(trainer) : nullptr;
}

// Steps on the hardware thread until done or `steps` steps.
void StepOn(Bench& bench, SessionTrainer& trainer, int steps) {
  bench.controller->RunSync([&] {
    for (int k = 0; k < steps && !trainer.done(); ++k) {
      const absl::StatusOr<trainers::TrainingProgress> p = trainer.Step();
      ASSERT_TRUE(p.ok()) << p.status();
    }
  });
}

// The checkpoint the SessionManager writes: the status from the progress,
// then what the trainer saves.
photonic::v1::SessionCheckpoint CheckpointOf(const SessionTrainer& trainer) {
  photonic::v1::SessionCheckpoint checkpoint;
  const trainers::TrainingProgress& p = trainer.progress();
  SessionStatus& status = *checkpoint.mutable_status();
  status.set_step(p.step);
  status.set_loss_evaluations(p.loss_evaluations);
  status.set_loss(p.loss);
  status.set_test_accuracy(p.test_accuracy);
  status.set_heater_power_mw(p.heater_power_mw);
  status.set_mean_heater_power_mw(p.mean_heater_power_mw);
  trainer.Save(checkpoint);
  return checkpoint;
}

template <typename Repeated>
auto Vector(const Repeated& field) {
  return std::vector<typename Repeated::value_type>(field.begin(), field.end());
}

void ExpectSameCheckpoint(const photonic::v1::SessionCheckpoint& actual,
                          const photonic::v1::SessionCheckpoint& expected) {
  EXPECT_EQ(actual.status().step(), expected.status().step());
  EXPECT_EQ(actual.status().loss_evaluations(), expected.status().loss_evaluations());
  EXPECT_EQ(actual.status().loss(), expected.status().loss());
  EXPECT_EQ(actual.status().test_accuracy(), expected.status().test_accuracy());
  EXPECT_EQ(actual.status().heater_power_mw(), expected.status().heater_power_mw());
  EXPECT_EQ(actual.status().mean_heater_power_mw(), expected.status().mean_heater_power_mw());
  EXPECT_EQ(Vector(actual.params_rad()), Vector(expected.params_rad()));
  EXPECT_EQ(Vector(actual.base_phases_rad()), Vector(expected.base_phases_rad()));
  EXPECT_EQ(Vector(actual.optimizer_state()), Vector(expected.optimizer_state()));
  EXPECT_EQ(Vector(actual.network_state()), Vector(expected.network_state()));
  EXPECT_EQ(actual.power_sum_mw(), expected.power_sum_mw());
}

class SessionTrainerTest : public ::testing::TestWithParam<std::string> {};

// A trainer saved into a SessionCheckpoint mid-way and made again from it
// on a fresh chip holds exactly what was saved, and ends exactly where the
// uninterrupted trainer does.
TEST_P(SessionTrainerTest, ACheckpointRoundTripsThroughTheSessionCheckpoint) {
  const photonic::v1::SessionConfig config = FamilyConfig(GetParam());
  Bench first_chip = MakeBench();
  HeatersOn(first_chip);
  std::unique_ptr<SessionTrainer> first = MakeTrainer(first_chip, config);
  ASSERT_NE(first, nullptr);
  ASSERT_NO_FATAL_FAILURE(StepOn(first_chip, *first, 5));
  const photonic::v1::SessionCheckpoint saved = CheckpointOf(*first);
  EXPECT_EQ(saved.status().step(), 5);
  EXPECT_GT(saved.status().loss_evaluations(), 0);
  EXPECT_GT(saved.power_sum_mw(), 0.0);
  if (GetParam() == "dfa") {
    EXPECT_GT(saved.network_state_size(), 0);
  } else {
    EXPECT_GT(saved.params_rad_size(), 0);
    EXPECT_GT(saved.optimizer_state_size(), 0);
  }
  EXPECT_EQ(saved.base_phases_rad_size() > 0, GetParam() == "sparse_zo");

  Bench second_chip = MakeBench();
  HeatersOn(second_chip);
  std::unique_ptr<SessionTrainer> resumed = MakeTrainer(second_chip, config, &saved);
  ASSERT_NE(resumed, nullptr);
  ExpectSameCheckpoint(CheckpointOf(*resumed), saved);

  ASSERT_NO_FATAL_FAILURE(StepOn(first_chip, *first, 100));
  ASSERT_NO_FATAL_FAILURE(StepOn(second_chip, *resumed, 100));
  EXPECT_EQ(resumed->progress().step, 12);
  ExpectSameCheckpoint(CheckpointOf(*resumed), CheckpointOf(*first));
}

// Advances the simulated chip's clock by `loading` when the data of a run
// is loaded (its "data loaded" note), as loading takes wall time on the
// serial backend's clock.
class SlowDataSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  SlowDataSink(photonsim::SimChip& sim, std::chrono::nanoseconds loading)
      : sim_(sim), loading_(loading) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (std::string_view(msg.payload.data(), msg.payload.size()).find("data loaded: ") !=
        std::string_view::npos) {
      sim_.Advance(loading_);
    }
  }
  void flush_() override {}

 private:
  photonsim::SimChip& sim_;
  std::chrono::nanoseconds loading_;
};

// The chip time and heater energy a trainer reports start after its data
// is loaded; dfa sessions count from before loading, as they always have.
TEST_P(SessionTrainerTest, ChipTimeAndHeaterEnergyLeaveOutTheDataLoading) {
  constexpr std::chrono::seconds kLoading(10000);
  const photonic::v1::SessionConfig config = FamilyConfig(GetParam());
  for (const bool resuming : {false, true}) {
    SCOPED_TRACE(resuming ? "resumed" : "new");
    photonic::v1::SessionCheckpoint saved;
    if (resuming) {
      Bench bench = MakeBench();
      std::unique_ptr<SessionTrainer> trainer = MakeTrainer(bench, config);
      ASSERT_NE(trainer, nullptr);
      ASSERT_NO_FATAL_FAILURE(StepOn(bench, *trainer, 2));
      saved = CheckpointOf(*trainer);
    }
    Bench bench = MakeBench();
    const double heaters_mw = HeatersOn(bench);
    EXPECT_GT(heaters_mw, 10.0);
    auto sink = std::make_shared<SlowDataSink>(*bench.sim, kLoading);
    std::vector<spdlog::sink_ptr>& sinks = spdlog::default_logger()->sinks();
    sinks.push_back(sink);
    std::unique_ptr<SessionTrainer> trainer =
        MakeTrainer(bench, config, resuming ? &saved : nullptr);
    sinks.pop_back();
    ASSERT_NE(trainer, nullptr);
    const trainers::OracleCost cost = bench.controller->RunSync([&] { return trainer->cost(); });
    const double loading_s = std::chrono::duration<double>(kLoading).count();
    if (GetParam() == "dfa") {
      EXPECT_GE(cost.chip_seconds, loading_s);
      EXPECT_GE(cost.heater_energy_mj, 0.99 * heaters_mw * loading_s);
    } else {
      EXPECT_LT(cost.chip_seconds, 0.01 * loading_s);
      EXPECT_LT(cost.heater_energy_mj, 0.01 * heaters_mw * loading_s);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, SessionTrainerTest,
                         ::testing::Values("sparse_zo", "pat", "dat", "ntkd", "dfa"));

}  // namespace
}  // namespace phc::daemon
