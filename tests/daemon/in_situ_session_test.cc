// pat and dat as TrainingService algorithms, through the SessionManager on
// a simulated chip: the session pretrains in silico, adapts on the chip's
// mesh (time-multiplexed blocks), reports progress and chip cost; configs
// that do not fit the chip are refused naming the field.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "daemon/training/session_manager.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

using photonic::v1::SessionConfig;
using photonic::v1::SessionStatus;

SessionStatus WaitForEnd(SessionManager& manager, const std::string& id) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<SessionStatus> last;
  auto ended = [](const SessionStatus& s) {
    return s.state() == photonic::v1::SESSION_STATE_COMPLETED ||
           s.state() == photonic::v1::SESSION_STATE_FAILED ||
           s.state() == photonic::v1::SESSION_STATE_CANCELLED;
  };
  EXPECT_TRUE(manager
                  .Watch(id,
                         [&](const SessionStatus& s, bool) {
                           std::lock_guard lock(mu);
                           if (ended(s)) {
                             last = s;
                             cv.notify_all();
                           }
                           return !ended(s);
                         })
                  .ok());
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return last.has_value(); });
  return *last;
}

testing::SimBench Chip() {
  photonic::v1::ChipDescription chip = testing::IdealMeshChip(4);
  chip.set_max_total_heater_power_mw(1000);  // 12 phases up to 2 pi each
  return *testing::MakeSimBench(chip, 2);
}

SessionConfig InSituConfig(const std::string& method) {
  SessionConfig c;
  for (int w : {4, 4, 3}) c.add_widths(w);  // two optical blocks, 3 classes
  c.mutable_algorithm()->set_name(method);
  c.mutable_algorithm()->set_pretrain_epochs(40);
  c.mutable_algorithm()->set_prediction_warmup_steps(20);
  c.set_dataset("synthetic");
  c.set_train_samples(300);
  c.set_test_samples(150);
  c.set_batch_size(30);
  c.set_max_steps(60);
  c.set_eval_every(30);
  c.set_checkpoint_every(1000);
  c.set_seed(5);
  return c;
}

TEST(InSituSessionTest, DatSessionPretrainsAndAdaptsOnTheChip) {
  testing::SimBench chip = Chip();
  SessionManager manager(*chip.controller, "", "test");
  auto started = chip.controller->RunSync([&] { return manager.Start(InSituConfig("dat")); });
  ASSERT_TRUE(started.ok()) << started.status();
  const SessionStatus last = WaitForEnd(manager, started->id());
  EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
  EXPECT_EQ(last.termination_reason(), "max_steps");
  EXPECT_EQ(last.step(), 60);
  // The pretrained model works on the (ideal) chip from the start.
  EXPECT_GT(last.initial_test_accuracy(), 0.7);
  std::printf("initial %.3f final %.3f\n", last.initial_test_accuracy(), last.test_accuracy());
  EXPECT_GT(last.test_accuracy(), 0.7);
  // Every step measured its 30 samples on both blocks.
  EXPECT_GE(last.chip_queries(), 60 * 30 * 2);
  EXPECT_GT(last.mean_heater_power_mw(), 0.0);
  // 2 meshes x 12 phases, 2 predictions x 2 x 16, readout 4 x 3 + 3.
  EXPECT_EQ(last.trained_phases(), 24 + 64 + 15);
  manager.Shutdown();
}

TEST(InSituSessionTest, NtkdSessionDistillsThenFineTunesTheBackendOnTheChip) {
  testing::SimBench chip = Chip();
  SessionManager manager(*chip.controller, "", "test");
  SessionConfig c = InSituConfig("ntkd");
  c.clear_widths();
  for (int w : {4, 4, 16, 3}) c.add_widths(w);  // two optical blocks, 16 hidden, 3 classes
  c.mutable_algorithm()->set_teacher_epochs(10);
  c.mutable_algorithm()->set_ntk_weight(1.0);
  c.mutable_algorithm()->set_learning_rate(0.003);
  c.set_batch_size(10);
  c.set_max_steps(30);
  c.set_eval_every(10);
  auto started = chip.controller->RunSync([&] { return manager.Start(c); });
  ASSERT_TRUE(started.ok()) << started.status();
  const SessionStatus last = WaitForEnd(manager, started->id());
  EXPECT_EQ(last.state(), photonic::v1::SESSION_STATE_COMPLETED) << last.termination_reason();
  EXPECT_EQ(last.step(), 30);
  // The distilled student on the (ideal) chip, before and after fine-tuning.
  EXPECT_GT(last.initial_test_accuracy(), 0.6);
  EXPECT_GT(last.test_accuracy(), 0.6);
  // Measured once: the fine-tuning set (10% of 300, at least a batch) and
  // the test set, through both blocks.
  EXPECT_EQ(last.chip_queries(), (30 + 150) * 2);
  // Frontend 2 x 12 phases; backend 4 x 16 + 16 + 16 x 3 + 3.
  EXPECT_EQ(last.trained_phases(), 24 + 80 + 51);
  manager.Shutdown();
}

TEST(InSituSessionTest, ConfigsThatDoNotFitTheChipAreRefusedNamingTheField) {
  testing::SimBench chip = Chip();
  SessionManager manager(*chip.controller, "", "test");
  auto start = [&](const SessionConfig& c) {
    return chip.controller->RunSync([&] { return manager.Start(c); }).status();
  };
  SessionConfig c = InSituConfig("pat");
  c.clear_widths();
  for (int w : {8, 3}) c.add_widths(w);
  absl::Status s = start(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("widths[0]"), std::string::npos) << s;

  c = InSituConfig("dat");
  c.set_first_circuit(3);
  s = start(c);
  EXPECT_NE(s.message().find("first_circuit"), std::string::npos) << s;

  c = InSituConfig("ntkd");  // widths {4, 4, 3}: 4 hidden units, 1 block: fine
  c.mutable_algorithm()->set_ntk_weight(-1.0);
  s = start(c);
  EXPECT_NE(s.message().find("ntk_weight"), std::string::npos) << s;

  c = InSituConfig("dat");
  c.mutable_algorithm()->set_learning_rate(5.0);
  s = start(c);
  EXPECT_NE(s.message().find("learning_rate"), std::string::npos) << s;
  EXPECT_FALSE(
      chip.controller->RunSync([&] { return chip.controller->write_lease(); }).has_value());
}

}  // namespace
}  // namespace phc::daemon
