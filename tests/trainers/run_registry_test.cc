// The run registry on the ideal model of a chip: every algorithm is found
// by name, unknown names are refused listing the known ones; for every
// family a run restored from its RunCheckpoint mid-way ends exactly where an
// uninterrupted one does, with its heater power summed and averaged over
// the steps; the chip's accounting starts once the data is loaded (dfa:
// before); and a checkpoint that does not fit is refused before the chip or
// its weight bank is touched.
#include "phc/trainers/run_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phc/trainers/model_oracle.h"
#include "tests/forwarding_oracle.h"
#include "tests/small_sessions.h"
#include "tests/test_chips.h"

namespace phc::trainers {
namespace {

using photonic::v1::SessionConfig;

constexpr char kStartAccounting[] = "start accounting";

// A microring bank that only counts: ring writes and readings (all zero).
class CountingBank final : public WeightBankDevice {
 public:
  CountingBank(int channels, int rows) : channels_(channels), rows_(rows) {}

  int channels() const override { return channels_; }
  int rows() const override { return rows_; }
  absl::Status SetRingPowers(std::span<const double>) override {
    ++writes_;
    return absl::OkStatus();
  }
  absl::StatusOr<Eigen::VectorXd> Read(std::span<const double>, int) override {
    ++readings_;
    return Eigen::VectorXd::Zero(rows_);
  }
  int writes() const { return writes_; }
  int readings() const { return readings_; }

 private:
  int channels_;
  int rows_;
  int writes_ = 0;
  int readings_ = 0;
};

// The ideal model of the 4-mode mesh chip, remembering the phases last set
// and whether it was written or measured before its RunChip started its
// accounting.
class RecordingOracle final : public testing::ForwardingOracle {
 public:
  RecordingOracle(const photonic::v1::ChipDescription& chip, const bool& accounting)
      : ForwardingOracle(chip),
        accounting_(accounting),
        phases_(ideal_.layout().phase_count, 0.0) {}

  absl::Status SetPhases(std::span<const double> phases_rad) override {
    used_before_accounting_ |= !accounting_;
    absl::Status s = ideal_.SetPhases(phases_rad);
    if (s.ok()) phases_.assign(phases_rad.begin(), phases_rad.end());
    return s;
  }
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    used_before_accounting_ |= !accounting_;
    return ideal_.Query(amplitudes);
  }

  const std::vector<double>& phases() const { return phases_; }
  bool used_before_accounting() const { return used_before_accounting_; }

 private:
  const bool& accounting_;
  std::vector<double> phases_;
  bool used_before_accounting_ = false;
};

// A RunChip over the ideal model: heaters off at the start, a weight bank
// only when given one. Its heater power is 1 mW plus the model's for the
// phases last set, and it keeps every value it reported. `events`, when
// given, gets kStartAccounting when the accounting starts (the test's log
// puts the run's notes in the same list).
class ModelRunChip final : public RunChip {
 public:
  explicit ModelRunChip(std::vector<std::string>* events = nullptr,
                        WeightBankDevice* bank = nullptr)
      : description_(Chip()), oracle_(description_, accounting_), events_(events), bank_(bank) {}

  const photonic::v1::ChipDescription& description() const override { return description_; }
  ChipOracle& oracle() override { return oracle_; }
  absl::StatusOr<WeightBankDevice*> weight_bank() override {
    if (bank_ == nullptr) return absl::FailedPreconditionError("the model chip has no weight bank");
    return bank_;
  }
  std::vector<double> phases_rad() const override { return oracle_.phases(); }
  double heater_power_mw() const override {
    reported_power_mw_.push_back(1.0 + oracle_.HeaterPowerMw(oracle_.phases()));
    return reported_power_mw_.back();
  }
  void StartAccounting() override {
    accounting_ = true;
    ++accounting_starts_;
    if (events_ != nullptr) events_->push_back(kStartAccounting);
  }
  OracleCost cost() const override { return oracle_.cost(); }

  // The power model, for the tests' own sums.
  double PowerOf(std::span<const double> phases_rad) const {
    return oracle_.HeaterPowerMw(phases_rad);
  }
  const std::vector<double>& reported_power_mw() const { return reported_power_mw_; }
  int accounting_starts() const { return accounting_starts_; }
  bool used_before_accounting() const { return oracle_.used_before_accounting(); }

 private:
  static photonic::v1::ChipDescription Chip() {
    photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
    chip.set_max_total_heater_power_mw(1e6);
    return chip;
  }

  photonic::v1::ChipDescription description_;
  bool accounting_ = false;
  RecordingOracle oracle_;
  std::vector<std::string>* events_;
  WeightBankDevice* bank_;
  mutable std::vector<double> reported_power_mw_;
  int accounting_starts_ = 0;
};

// A small session config for `name` on the 4-mode mesh, defaults filled in
// as the daemon fills them.
SessionConfig Config(const std::string& name) {
  SessionConfig c = phc::testing::SmallSessionConfig(name);
  c.mutable_algorithm()->set_param_sparsity(0.2);
  c.mutable_algorithm()->set_grad_sparsity(0.3);
  c.mutable_algorithm()->set_prediction_warmup_steps(5);
  c.set_max_steps(24);
  c.set_eval_every(8);
  c.set_detector_averages(1);
  c.set_temperature(10.0);
  return c;
}

TEST(RunRegistryTest, EveryAlgorithmIsFoundByItsName) {
  std::vector<std::string> names;
  for (const Algorithm& a : Algorithms()) names.emplace_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"coordinate_zo", "gaussian_zo", "spsa", "stp", "cocd",
                                             "sparse_cocd", "zo_adam", "sparse_zo", "pat", "dat",
                                             "ntkd", "dfa", "gift"}));
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

// Steps `run` `steps` times or until it is done, checking each step's
// heater power against its own reckoning: the chip's reading (ZO: the
// model's power for the phases the run holds, which the run reports
// itself); and the mean over the steps against `power_sum_mw` plus the
// powers seen here, which it adds to `power_sum_mw` and `powers_mw`.
void StepChecked(Run& run, const ModelRunChip& chip, bool zo, int steps, double& power_sum_mw,
                 std::vector<double>& powers_mw) {
  for (int k = 0; k < steps && !run.done(); ++k) {
    const absl::StatusOr<TrainingProgress> p = run.Step();
    ASSERT_TRUE(p.ok()) << p.status();
    const double power_mw =
        zo ? chip.PowerOf(run.Save().base_phases_rad) : chip.reported_power_mw().back();
    EXPECT_EQ(p->heater_power_mw, power_mw) << "step " << p->step;
    EXPECT_EQ(run.progress().heater_power_mw, power_mw) << "step " << p->step;
    power_sum_mw += power_mw;
    powers_mw.push_back(power_mw);
    EXPECT_DOUBLE_EQ(p->mean_heater_power_mw, power_sum_mw / static_cast<double>(p->step))
        << "step " << p->step;
  }
}

void ExpectSameCheckpoint(const RunCheckpoint& actual, const RunCheckpoint& expected) {
  EXPECT_EQ(actual.progress.step, expected.progress.step);
  EXPECT_EQ(actual.progress.loss_evaluations, expected.progress.loss_evaluations);
  EXPECT_EQ(actual.progress.loss, expected.progress.loss);
  EXPECT_EQ(actual.progress.test_accuracy, expected.progress.test_accuracy);
  EXPECT_EQ(actual.progress.heater_power_mw, expected.progress.heater_power_mw);
  EXPECT_EQ(actual.progress.mean_heater_power_mw, expected.progress.mean_heater_power_mw);
  EXPECT_EQ(actual.params, expected.params);
  EXPECT_EQ(actual.base_phases_rad, expected.base_phases_rad);
  EXPECT_EQ(actual.optimizer_state, expected.optimizer_state);
  EXPECT_EQ(actual.network_state, expected.network_state);
  EXPECT_EQ(actual.power_sum_mw, expected.power_sum_mw);
}

class RunCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RunCheckpointTest, ARunRestoredMidwayEndsExactlyAsAnUninterruptedOne) {
  const std::string name = GetParam();
  const SessionConfig config = Config(name);
  const bool zo = name == "sparse_zo";

  ModelRunChip straight_chip;
  absl::StatusOr<StartedRun> straight = CreateRun(config, straight_chip, {});
  ASSERT_TRUE(straight.ok()) << straight.status();
  EXPECT_GT(straight->trained_parameters, 0);
  EXPECT_EQ(straight->dataset_source, "synthetic");
  EXPECT_GE(straight->initial_test_accuracy, 0.0);
  double straight_sum_mw = 0.0;
  std::vector<double> straight_powers_mw;
  ASSERT_NO_FATAL_FAILURE(
      StepChecked(*straight->run, straight_chip, zo, 100, straight_sum_mw, straight_powers_mw));
  EXPECT_EQ(straight->run->progress().step, 24);
  EXPECT_EQ(straight->run->stop_reason(), StopReason::kMaxSteps);
  const RunCheckpoint expected = straight->run->Save();
  EXPECT_EQ(expected.power_sum_mw, straight_sum_mw);
  EXPECT_GT(expected.power_sum_mw, 0.0);
  // The chip's heater power is read once a step (ZO: the run's own model).
  EXPECT_EQ(straight_chip.reported_power_mw().size(), zo ? 0u : 24u);
  if (name == "sparse_zo" || name == "dat") {  // their steps move the phases
    EXPECT_NE(std::ranges::min(straight_powers_mw), std::ranges::max(straight_powers_mw));
  }

  ModelRunChip interrupted_chip;
  absl::StatusOr<StartedRun> interrupted = CreateRun(config, interrupted_chip, {});
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  double interrupted_sum_mw = 0.0;
  std::vector<double> interrupted_powers_mw;
  ASSERT_NO_FATAL_FAILURE(StepChecked(*interrupted->run, interrupted_chip, zo, 10,
                                      interrupted_sum_mw, interrupted_powers_mw));
  const RunCheckpoint checkpoint = interrupted->run->Save();
  EXPECT_EQ(checkpoint.progress.step, 10);
  EXPECT_EQ(checkpoint.power_sum_mw, interrupted_sum_mw);
  EXPECT_GT(checkpoint.progress.loss_evaluations, 0);

  ModelRunChip resumed_chip;
  RunOptions resume;
  resume.resume_from = &checkpoint;
  absl::StatusOr<StartedRun> resumed = CreateRun(config, resumed_chip, resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->initial_test_accuracy, -1.0);
  ExpectSameCheckpoint(resumed->run->Save(), checkpoint);
  double resumed_sum_mw = checkpoint.power_sum_mw;
  std::vector<double> resumed_powers_mw;
  ASSERT_NO_FATAL_FAILURE(
      StepChecked(*resumed->run, resumed_chip, zo, 100, resumed_sum_mw, resumed_powers_mw));
  EXPECT_EQ(resumed_sum_mw, straight_sum_mw);

  const RunCheckpoint actual = resumed->run->Save();
  EXPECT_EQ(actual.progress.step, 24);
  ExpectSameCheckpoint(actual, expected);
  EXPECT_FALSE(actual.params.empty() && actual.network_state.empty());
  EXPECT_EQ(actual.base_phases_rad.empty(), !zo);

  // A checkpoint that does not fit is refused before the chip is written
  // or measured.
  RunCheckpoint misfit = checkpoint;
  misfit.params.assign(1, 0.5);
  misfit.network_state.assign(1, 0.5f);
  ModelRunChip misfit_chip;
  resume.resume_from = &misfit;
  EXPECT_EQ(CreateRun(config, misfit_chip, resume).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(misfit_chip.cost().phase_writes, 0);
  EXPECT_EQ(misfit_chip.cost().queries, 0);
}

// The chip's accounting (heater energy, chip time: on real instruments,
// wall time) starts once, after the data is loaded, and before the run
// uses the chip; dfa sessions start it before loading, as they always have.
TEST_P(RunCheckpointTest, TheChipsAccountingStartsOnceTheDataIsLoaded) {
  const std::string name = GetParam();
  const SessionConfig config = Config(name);
  std::optional<RunCheckpoint> checkpoint;
  for (const bool resuming : {false, true}) {
    SCOPED_TRACE(resuming ? "resumed" : "new");
    std::vector<std::string> events;
    ModelRunChip chip(&events);
    RunOptions options;
    options.log = [&](std::string_view note) { events.emplace_back(note); };
    if (resuming) options.resume_from = &*checkpoint;
    absl::StatusOr<StartedRun> started = CreateRun(config, chip, options);
    ASSERT_TRUE(started.ok()) << started.status();
    EXPECT_EQ(chip.accounting_starts(), 1);
    EXPECT_FALSE(chip.used_before_accounting());
    const auto loaded = std::ranges::find_if(
        events, [](const std::string& e) { return e.starts_with("data loaded: synthetic, 60 "); });
    const auto start = std::ranges::find(events, kStartAccounting);
    ASSERT_NE(loaded, events.end());
    ASSERT_NE(start, events.end());
    const auto loaded_at = loaded - events.begin(), start_at = start - events.begin();
    if (name == "dfa") {
      EXPECT_LT(start_at, loaded_at);
    } else {
      EXPECT_LT(loaded_at, start_at);
    }
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(started->run->Step().ok());
    checkpoint = started->run->Save();
  }
}

// Refused checkpoints leave the chip as it was: a dfa run on the weight
// bank does not calibrate or program it, ntkd does not measure its
// frontend, pat and dat do not start.
TEST(RunRegistryTest, ACheckpointThatDoesNotFitIsRefusedBeforeTheChipIsTouched) {
  SessionConfig dfa = Config("dfa");
  dfa.mutable_algorithm()->set_feedback("microring");  // 3 classes x 8 hidden units
  CountingBank bank(3, 8);
  ModelRunChip bank_chip(nullptr, &bank);
  RunCheckpoint misfit;
  misfit.progress.step = 5;
  misfit.network_state.assign(7, 0.5f);
  RunOptions resume;
  resume.resume_from = &misfit;
  absl::Status refused = CreateRun(dfa, bank_chip, resume).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss) << refused;
  EXPECT_NE(refused.message().find("the DFA checkpoint holds 7 numbers"), std::string::npos)
      << refused;
  EXPECT_EQ(bank.writes(), 0);
  EXPECT_EQ(bank.readings(), 0);

  // The parameters fit; the optimizer state does not: one number short
  // (ntkd, pat, dat: Adam moments), or two too many (a ZO momentum vector or
  // pruning count of the wrong length, or state for an optimizer that keeps
  // none).
  for (const char* name :
       {"ntkd", "pat", "dat", "coordinate_zo", "gaussian_zo", "spsa", "sparse_zo"}) {
    SCOPED_TRACE(name);
    ModelRunChip chip;
    absl::StatusOr<StartedRun> started = CreateRun(Config(name), chip, {});
    ASSERT_TRUE(started.ok()) << started.status();
    ASSERT_TRUE(started->run->Step().ok());
    RunCheckpoint checkpoint = started->run->Save();
    if (std::string_view(name).ends_with("zo") || std::string_view(name) == "spsa") {
      checkpoint.optimizer_state.insert(checkpoint.optimizer_state.end(), {0.5, 0.5});
    } else {
      checkpoint.optimizer_state.pop_back();
    }
    ModelRunChip resumed_chip;
    resume.resume_from = &checkpoint;
    refused = CreateRun(Config(name), resumed_chip, resume).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss) << refused;
    EXPECT_NE(refused.message().find("optimizer state does not fit"), std::string::npos) << refused;
    EXPECT_EQ(resumed_chip.cost().phase_writes, 0);
    EXPECT_EQ(resumed_chip.cost().queries, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, RunCheckpointTest,
                         ::testing::Values("sparse_zo", "pat", "dat", "ntkd", "dfa"));

}  // namespace
}  // namespace phc::trainers
