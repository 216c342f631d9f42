// Sessions that start from a deployed model (pat, dat, gift), on the ideal
// model of a chip made for a small model: a run restored from its
// checkpoint mid-way ends exactly where an uninterrupted one does, the
// chip's phases included; a checkpoint that does not fit is refused before
// the chip is touched; configs a model run cannot take are refused naming
// the field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "phc/base/check.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/run_registry.h"
#include "tests/forwarding_oracle.h"
#include "tests/test_chips.h"

namespace phc::trainers {
namespace {

using photonic::v1::SessionConfig;

photonic::v1::ModelSpec TinySpec() {
  photonic::v1::ModelSpec spec;
  spec.set_name("tiny");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  spec.add_layers()->mutable_linear()->set_outputs(8);
  spec.add_layers()->mutable_relu()->set_clip(2.0);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  return spec;
}

onn::Model BuildTiny() {
  absl::StatusOr<onn::Model> model = onn::Model::Build(TinySpec(), onn::Realisation::kOptical, 3);
  PHC_CHECK(model.ok());
  return *std::move(model);
}

// The ideal chip, remembering the phases last set.
class PhaseRecorder final : public testing::ForwardingOracle {
 public:
  explicit PhaseRecorder(const photonic::v1::ChipDescription& chip)
      : ForwardingOracle(chip), phases_(ideal_.layout().phase_count, 0.0) {}
  absl::Status SetPhases(std::span<const double> phases) override {
    absl::Status s = ideal_.SetPhases(phases);
    if (s.ok()) phases_.assign(phases.begin(), phases.end());
    return s;
  }
  const std::vector<double>& phases() const { return phases_; }

 private:
  std::vector<double> phases_;
};

// A host keeping one model, "tiny", deployed on a chip made for it. Its
// cost counts from after that deployment.
class ModelHostChip final : public RunChip {
 public:
  ModelHostChip()
      : description_(ChipForModel(BuildTiny(), testing::ModelInstruments(1e6))),
        oracle_(description_) {
    const onn::Model model = BuildTiny();
    absl::StatusOr<onn::ChipPlacement> placement = onn::PlaceModel(model, description_);
    PHC_CHECK(placement.ok());
    placement_ = *std::move(placement);
    PHC_CHECK(oracle_
                  .SetPhases(onn::DeployedPhases(model, oracle_.layout(), placement_,
                                                 std::vector<double>(phase_count(), 0.0)))
                  .ok());
    deployed_ = oracle_.cost();
  }

  const photonic::v1::ChipDescription& description() const override { return description_; }
  ChipOracle& oracle() override { return oracle_; }
  absl::StatusOr<WeightBankDevice*> weight_bank() override {
    return absl::FailedPreconditionError("no weight bank");
  }
  std::vector<double> phases_rad() const override { return oracle_.phases(); }
  absl::StatusOr<ChipModel> model(const std::string& id, bool) override {
    if (id != "tiny") return absl::NotFoundError(id);
    return ChipModel{BuildTiny(), placement_};
  }
  double heater_power_mw() const override { return oracle_.HeaterPowerMw(oracle_.phases()); }
  void StartAccounting() override {}
  OracleCost cost() const override {
    OracleCost c = oracle_.cost();
    c.queries -= deployed_.queries;
    c.phase_writes -= deployed_.phase_writes;
    return c;
  }
  int phase_count() const { return oracle_.layout().phase_count; }

 private:
  photonic::v1::ChipDescription description_;
  PhaseRecorder oracle_;
  onn::ChipPlacement placement_;
  OracleCost deployed_;
};

SessionConfig Config(const std::string& name) {
  SessionConfig c;
  c.set_from_model("tiny");
  c.mutable_algorithm()->set_name(name);
  c.mutable_algorithm()->set_learning_rate(0.01);
  if (name == "dat") c.mutable_algorithm()->set_prediction_warmup_steps(3);
  c.set_train_samples(60);
  c.set_test_samples(30);
  c.set_batch_size(6);
  c.set_max_steps(12);
  c.set_eval_every(4);
  c.set_seed(7);
  return c;
}

void StepToEnd(Run& run, int max_steps) {
  for (int s = 0; s < max_steps && !run.done(); ++s) {
    absl::StatusOr<TrainingProgress> p = run.Step();
    ASSERT_TRUE(p.ok()) << p.status();
  }
}

class ModelRunTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ModelRunTest, ARestoredRunEndsWhereAnUninterruptedOneDoes) {
  const SessionConfig config = Config(GetParam());
  ModelHostChip straight_chip;
  ASSERT_TRUE(ValidateRun(config, straight_chip.description(),
                          photonsim::BuildChipLayout(straight_chip.description()))
                  .ok());
  absl::StatusOr<StartedRun> straight = CreateRun(config, straight_chip, {});
  ASSERT_TRUE(straight.ok()) << straight.status();
  EXPECT_GE(straight->initial_test_accuracy, 0.0);
  const std::vector<double> deployed = straight_chip.phases_rad();
  ASSERT_NO_FATAL_FAILURE(StepToEnd(*straight->run, 100));
  const RunCheckpoint expected = straight->run->Save();
  EXPECT_EQ(expected.progress.step, 12);
  EXPECT_NE(straight_chip.phases_rad(), deployed);  // the steps were written

  ModelHostChip interrupted_chip;
  absl::StatusOr<StartedRun> interrupted = CreateRun(config, interrupted_chip, {});
  ASSERT_TRUE(interrupted.ok());
  ASSERT_NO_FATAL_FAILURE(StepToEnd(*interrupted->run, 5));
  const RunCheckpoint checkpoint = interrupted->run->Save();
  EXPECT_EQ(checkpoint.progress.step, 5);

  ModelHostChip resumed_chip;
  RunOptions resume;
  resume.resume_from = &checkpoint;
  absl::StatusOr<StartedRun> resumed = CreateRun(config, resumed_chip, resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->initial_test_accuracy, -1.0);
  // The checkpoint's parameters are on the chip before the first step.
  EXPECT_EQ(resumed_chip.phases_rad(), interrupted_chip.phases_rad());
  ASSERT_NO_FATAL_FAILURE(StepToEnd(*resumed->run, 100));
  const RunCheckpoint actual = resumed->run->Save();
  EXPECT_EQ(actual.progress.step, expected.progress.step);
  EXPECT_EQ(actual.progress.loss, expected.progress.loss);
  EXPECT_EQ(actual.progress.test_accuracy, expected.progress.test_accuracy);
  EXPECT_EQ(actual.params, expected.params);
  EXPECT_EQ(actual.optimizer_state, expected.optimizer_state);
  EXPECT_EQ(resumed_chip.phases_rad(), straight_chip.phases_rad());

  RunCheckpoint misfit = checkpoint;
  misfit.optimizer_state.pop_back();
  ModelHostChip misfit_chip;
  resume.resume_from = &misfit;
  EXPECT_EQ(CreateRun(config, misfit_chip, resume).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(misfit_chip.cost().phase_writes, 0);
  EXPECT_EQ(misfit_chip.cost().queries, 0);
}

INSTANTIATE_TEST_SUITE_P(FromAModel, ModelRunTest, ::testing::Values("pat", "dat", "gift"));

TEST(ModelRunConfigTest, WhatAModelRunCannotTakeIsRefusedNamingTheField) {
  ModelHostChip chip;
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip.description());
  struct Case {
    const char* algorithm;
    void (*change)(SessionConfig&);
    const char* field;
  };
  const Case cases[] = {
      {"pat", [](SessionConfig& c) { c.add_widths(4); }, "widths"},
      {"dat", [](SessionConfig& c) { c.mutable_algorithm()->set_pretrain_epochs(2); },
       "pretrain_epochs"},
      {"dat", [](SessionConfig& c) { c.mutable_algorithm()->set_prediction_learning_rate(0.1); },
       "prediction_learning_rate"},
      {"pat", [](SessionConfig& c) { c.mutable_algorithm()->set_prediction_warmup_steps(3); },
       "prediction_warmup_steps"},
      {"pat", [](SessionConfig& c) { c.mutable_algorithm()->set_learning_rate(2.0); },
       "learning_rate"},
      {"dat", [](SessionConfig& c) { c.set_power_budget_mw(10.0); }, "power_budget_mw"},
      {"dat", [](SessionConfig& c) { c.set_batch_size(0); }, "batch_size"},
  };
  for (const Case& k : cases) {
    SessionConfig c = Config(k.algorithm);
    k.change(c);
    const absl::Status s = ValidateRun(c, chip.description(), layout);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k.field;
    EXPECT_NE(s.message().find(k.field), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace phc::trainers
