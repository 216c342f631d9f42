// DFA as a TrainingService algorithm, through the SessionManager: on the
// microring weight bank (calibrated and programmed by the session), exact
// resumption from a checkpoint, and configs refused naming their field.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "daemon/training/session_manager.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

using photonic::v1::SessionConfig;
using photonic::v1::SessionStatus;

bool Ended(const SessionStatus& s) {
  return s.state() == photonic::v1::SESSION_STATE_COMPLETED ||
         s.state() == photonic::v1::SESSION_STATE_FAILED ||
         s.state() == photonic::v1::SESSION_STATE_CANCELLED;
}

// The final status of a session, waited for on a condition variable.
SessionStatus WaitForEnd(SessionManager& manager, const std::string& id) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<SessionStatus> last;
  EXPECT_TRUE(manager
                  .Watch(id,
                         [&](const SessionStatus& s, bool) {
                           std::lock_guard lock(mu);
                           if (Ended(s)) {
                             last = s;
                             cv.notify_all();
                           }
                           return !Ended(s);
                         })
                  .ok());
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return last.has_value(); });
  return *last;
}

// mrr_dfa cut to 16 banks: hidden layers of 8 and 8 units, 10 classes.
testing::SimBench BankChip() {
  auto description =
      testing::LoadChipDescription(std::string(PHC_SOURCE_DIR) + "/deploy/chips/mrr_dfa.textproto");
  EXPECT_TRUE(description.ok()) << description.status();
  description->mutable_circuits(0)->mutable_microring_bank()->set_rows(16);
  return *testing::MakeSimBench(*description, 3);
}

SessionConfig DfaConfig(const std::string& feedback) {
  SessionConfig c;
  for (int w : {12, 8, 8, 10}) c.add_widths(w);
  c.mutable_algorithm()->set_name("dfa");
  c.mutable_algorithm()->set_feedback(feedback);
  c.mutable_algorithm()->set_learning_rate(0.05);
  c.set_dataset("synthetic");
  c.set_train_samples(400);
  c.set_test_samples(200);
  c.set_batch_size(16);
  c.set_max_steps(400);
  c.set_eval_every(100);
  c.set_checkpoint_every(1000);
  c.set_seed(4);
  return c;
}

TEST(DfaSessionTest, MicroringFeedbackSessionLearnsOnTheBank) {
  testing::SimBench chip = BankChip();
  SessionManager manager(*chip.controller, "", "test");
  auto started = chip.controller->RunSync([&] { return manager.Start(DfaConfig("microring")); });
  ASSERT_TRUE(started.ok()) << started.status();
  const SessionStatus last = WaitForEnd(manager, started->id());
  EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
  EXPECT_EQ(last.termination_reason(), "max_steps");
  EXPECT_EQ(last.step(), 400);
  // Ten synthetic clusters: chance is 0.1.
  EXPECT_LT(last.initial_test_accuracy(), 0.3);
  EXPECT_GT(last.test_accuracy(), 0.8);
  // Two bank readings per sample (positive and negative parts of e) at
  // most, plus the calibration's: the products went through the chip.
  EXPECT_GT(last.chip_queries(), 400 * 16);
  EXPECT_GT(last.mean_heater_power_mw(), 0.0);
  EXPECT_GT(last.heater_energy_mj(), 0.0);
  EXPECT_EQ(last.trained_phases(), 12 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10);
  manager.Shutdown();
}

std::string NetworkStateOf(const std::filesystem::path& dir, const std::string& id) {
  std::ifstream file(dir / "sessions" / (id + ".binpb"), std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  photonic::v1::SessionCheckpoint checkpoint;
  EXPECT_TRUE(checkpoint.ParseFromString(bytes.str()));
  EXPECT_GT(checkpoint.network_state_size(), 0);
  std::string out;
  for (float v : checkpoint.network_state()) out.append(reinterpret_cast<const char*>(&v), 4);
  return out;
}

TEST(DfaSessionTest, NoiseModelSessionResumesFromItsCheckpointExactly) {
  const std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / "dfa_session";
  std::filesystem::remove_all(root);
  // Long enough that the pause lands mid-run (slices are 20 ms).
  SessionConfig config = DfaConfig("noise_model");
  config.set_max_steps(20000);
  config.set_eval_every(5000);
  config.mutable_algorithm()->set_learning_rate(0.002);

  testing::SimBench straight_chip = BankChip();
  std::string straight;
  {
    SessionManager manager(*straight_chip.controller, root / "straight", "test");
    auto started = straight_chip.controller->RunSync([&] { return manager.Start(config); });
    ASSERT_TRUE(started.ok()) << started.status();
    const SessionStatus last = WaitForEnd(manager, started->id());
    EXPECT_EQ(last.step(), 20000);
    EXPECT_GT(last.test_accuracy(), 0.8);  // a trained network, not a diverged one
    manager.Shutdown();
    straight = NetworkStateOf(root / "straight", started->id());
  }

  testing::SimBench chip = BankChip();
  std::string id;
  {
    SessionManager manager(*chip.controller, root / "interrupted", "test");
    auto started = chip.controller->RunSync([&] { return manager.Start(config); });
    ASSERT_TRUE(started.ok());
    id = started->id();
    std::mutex mu;
    std::condition_variable cv;
    bool past = false;
    ASSERT_TRUE(manager
                    .Watch(id,
                           [&](const SessionStatus& s, bool) {
                             std::lock_guard lock(mu);
                             if (s.step() >= 50) past = true;
                             cv.notify_all();
                             return !past;
                           })
                    .ok());
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return past; });
    }
    auto paused = chip.controller->RunSync([&] { return manager.Pause(id); });
    ASSERT_TRUE(paused.ok());
    EXPECT_LT(paused->step(), 20000);
    manager.Shutdown();
  }
  chip.controller->RunSync(
      [&] { chip.controller->ReleaseWriteLease(WriteLeaseHolder::TrainingSession(id)); });
  {
    SessionManager manager(*chip.controller, root / "interrupted", "test");
    chip.controller->RunSync([&] { manager.Recover(); });
    auto resumed = chip.controller->RunSync([&] { return manager.Resume(id); });
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ(WaitForEnd(manager, id).step(), 20000);
    manager.Shutdown();
  }
  EXPECT_EQ(NetworkStateOf(root / "interrupted", id), straight);
}

TEST(DfaSessionTest, BadDfaConfigsAreRefusedNamingTheField) {
  testing::SimBench bank_chip = BankChip();
  SessionManager manager(*bank_chip.controller, "", "test");
  auto start = [&](const SessionConfig& c) {
    return bank_chip.controller->RunSync([&] { return manager.Start(c); }).status();
  };
  SessionConfig c = DfaConfig("laser");
  absl::Status s = start(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("algorithm.feedback"), std::string::npos) << s;

  c = DfaConfig("digital");
  c.mutable_algorithm()->set_momentum(1.5);
  s = start(c);
  EXPECT_NE(s.message().find("algorithm.momentum"), std::string::npos) << s;

  c = DfaConfig("microring");
  c.clear_widths();
  for (int w : {12, 8, 10}) c.add_widths(w);  // 8 hidden units; the bank has 16 rows
  s = start(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("widths"), std::string::npos) << s;

  testing::SimBench mesh = *testing::MakeSimBench(testing::IdealMeshChip(4), 1);
  SessionManager mesh_manager(*mesh.controller, "", "test");
  s = mesh.controller->RunSync([&] { return mesh_manager.Start(DfaConfig("microring")); }).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("microring"), std::string::npos) << s;
  // Nothing was started: the chips are not leased.
  EXPECT_TRUE(!bank_chip.controller->RunSync([&] { return bank_chip.controller->write_lease(); })
                   .has_value());
  manager.Shutdown();
  mesh_manager.Shutdown();
}

}  // namespace
}  // namespace phc::daemon
