// The run registry on the ideal model of a chip: every algorithm is found
// by name, unknown names are refused listing the known ones, and for every
// family a run restored from its RunCheckpoint mid-way ends exactly where an
// uninterrupted one does.
#include "phc/trainers/run_registry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "phc/trainers/model_oracle.h"
#include "tests/test_chips.h"

namespace phc::trainers {
namespace {

using photonic::v1::SessionConfig;

// A RunChip over the ideal model: heaters off at the start, no weight bank.
class ModelRunChip final : public RunChip {
 public:
  ModelRunChip() : description_(Chip()), oracle_(description_) {}

  const photonic::v1::ChipDescription& description() const override { return description_; }
  ChipOracle& oracle() override { return oracle_; }
  absl::StatusOr<WeightBankDevice*> weight_bank() override {
    return absl::FailedPreconditionError("the model chip has no weight bank");
  }
  std::vector<double> phases_rad() const override {
    return std::vector<double>(oracle_.layout().phase_count, 0.0);
  }
  double heater_power_mw() const override { return 0.0; }
  OracleCost cost() const override { return oracle_.cost(); }

 private:
  static photonic::v1::ChipDescription Chip() {
    photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
    chip.set_max_total_heater_power_mw(1e6);
    return chip;
  }

  photonic::v1::ChipDescription description_;
  ModelOracle oracle_;
};

// A small session config for `name` on the 4-mode mesh, defaults filled in
// as the daemon fills them.
SessionConfig Config(const std::string& name) {
  SessionConfig c;
  c.mutable_algorithm()->set_name(name);
  c.mutable_algorithm()->set_param_sparsity(0.2);
  c.mutable_algorithm()->set_grad_sparsity(0.3);
  c.mutable_algorithm()->set_pretrain_epochs(2);
  c.mutable_algorithm()->set_teacher_epochs(2);
  c.mutable_algorithm()->set_prediction_warmup_steps(5);
  if (name == "dfa") {
    for (int w : {4, 8, 3}) c.add_widths(w);
    c.mutable_algorithm()->set_feedback("noise_model");
  } else if (name == "ntkd") {
    for (int w : {4, 8, 3}) c.add_widths(w);
  } else if (name == "pat" || name == "dat") {
    for (int w : {4, 3}) c.add_widths(w);  // one optical block, 3 classes
  } else {
    for (int w : {4, 4}) c.add_widths(w);  // the ZO methods: a 4 x 4 layer
  }
  c.set_dataset("synthetic");
  c.set_train_samples(60);
  c.set_test_samples(30);
  c.set_batch_size(6);
  c.set_max_steps(24);
  c.set_eval_every(8);
  c.set_detector_averages(1);
  c.set_temperature(10.0);
  c.set_seed(7);
  return c;
}

TEST(RunRegistryTest, EveryAlgorithmIsFoundByItsName) {
  std::vector<std::string> names;
  for (const Algorithm& a : Algorithms()) names.emplace_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"coordinate_zo", "gaussian_zo", "spsa", "sparse_zo",
                                             "pat", "dat", "ntkd", "dfa"}));
  for (const std::string& name : names) {
    ASSERT_NE(FindAlgorithm(name), nullptr) << name;
    EXPECT_EQ(FindAlgorithm(name)->name, name);
  }
  EXPECT_EQ(FindAlgorithm("adam"), nullptr);
}

TEST(RunRegistryTest, AnUnknownAlgorithmIsRefusedListingTheKnownOnes) {
  ModelRunChip chip;
  const SessionConfig config = Config("adam");
  const absl::Status refused = ValidateRun(config, chip.description(), chip.oracle().layout());
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  for (const char* part : {"algorithm.name", "\"adam\"", "sparse_zo", "ntkd", "dfa"}) {
    EXPECT_NE(refused.message().find(part), std::string::npos) << part << ": " << refused;
  }
  EXPECT_EQ(CreateRun(config, chip, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunRegistryTest, ConfigsAreCheckedAgainstTheChipNamingTheField) {
  ModelRunChip chip;
  SessionConfig dat = Config("dat");
  dat.set_widths(0, 8);  // the mesh has 4 modes
  absl::Status s = ValidateRun(dat, chip.description(), chip.oracle().layout());
  EXPECT_NE(s.message().find("widths[0]"), std::string::npos) << s;
  SessionConfig dfa = Config("dfa");
  dfa.mutable_algorithm()->set_feedback("microring");  // not a weight-bank chip
  s = ValidateRun(dfa, chip.description(), chip.oracle().layout());
  EXPECT_NE(s.message().find("algorithm.feedback"), std::string::npos) << s;
  for (const char* name : {"sparse_zo", "dat", "ntkd", "dfa"}) {
    EXPECT_TRUE(ValidateRun(Config(name), chip.description(), chip.oracle().layout()).ok()) << name;
  }
}

class RunCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RunCheckpointTest, ARunRestoredMidwayEndsExactlyAsAnUninterruptedOne) {
  const SessionConfig config = Config(GetParam());
  auto run_to_end = [](trainers::Run& run) {  // not testing::Test::Run
    while (!run.done()) ASSERT_TRUE(run.Step().ok());
  };

  ModelRunChip straight_chip;
  absl::StatusOr<StartedRun> straight = CreateRun(config, straight_chip, {});
  ASSERT_TRUE(straight.ok()) << straight.status();
  EXPECT_GT(straight->trained_parameters, 0);
  EXPECT_EQ(straight->dataset_source, "synthetic");
  EXPECT_GE(straight->initial_test_accuracy, 0.0);
  run_to_end(*straight->run);
  EXPECT_EQ(straight->run->progress().step, 24);
  EXPECT_EQ(straight->run->stop_reason(), StopReason::kMaxSteps);

  ModelRunChip interrupted_chip;
  absl::StatusOr<StartedRun> interrupted = CreateRun(config, interrupted_chip, {});
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  for (int k = 0; k < 10; ++k) ASSERT_TRUE(interrupted->run->Step().ok());
  const RunCheckpoint checkpoint = interrupted->run->Save();
  EXPECT_EQ(checkpoint.progress.step, 10);

  ModelRunChip resumed_chip;
  RunOptions resume;
  resume.resume_from = &checkpoint;
  absl::StatusOr<StartedRun> resumed = CreateRun(config, resumed_chip, resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->initial_test_accuracy, -1.0);
  EXPECT_EQ(resumed->run->progress().step, 10);
  run_to_end(*resumed->run);

  const RunCheckpoint expected = straight->run->Save();
  const RunCheckpoint actual = resumed->run->Save();
  EXPECT_EQ(actual.progress.step, 24);
  EXPECT_EQ(actual.progress.test_accuracy, expected.progress.test_accuracy);
  EXPECT_EQ(actual.params, expected.params);
  EXPECT_EQ(actual.optimizer_state, expected.optimizer_state);
  EXPECT_EQ(actual.network_state, expected.network_state);
  EXPECT_FALSE(actual.params.empty() && actual.network_state.empty());

  RunCheckpoint misfit = checkpoint;
  misfit.params.assign(1, 0.5);
  misfit.network_state.assign(1, 0.5f);
  ModelRunChip misfit_chip;
  resume.resume_from = &misfit;
  EXPECT_EQ(CreateRun(config, misfit_chip, resume).status().code(), absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, RunCheckpointTest,
                         ::testing::Values("sparse_zo", "dat", "ntkd", "dfa"));

}  // namespace
}  // namespace phc::trainers
