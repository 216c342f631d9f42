#include "phc/trainers/run_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "session_runs.h"

namespace phc::trainers {
namespace runs {

HostedRun::HostedRun(RunResources resources, std::unique_ptr<Run> run, RunChip* chip_power)
    : resources_(std::move(resources)), run_(std::move(run)), chip_power_(chip_power) {}

absl::StatusOr<TrainingProgress> HostedRun::Step() {
  absl::StatusOr<TrainingProgress> p = run_->Step();
  if (!p.ok() || chip_power_ == nullptr) return p;
  progress_ = *p;
  progress_.cost = chip_power_->cost();
  progress_.heater_power_mw = chip_power_->heater_power_mw();
  power_sum_mw_ += progress_.heater_power_mw;
  progress_.mean_heater_power_mw = power_sum_mw_ / static_cast<double>(progress_.step);
  return progress_;
}

const TrainingProgress& HostedRun::progress() const {
  return chip_power_ == nullptr ? run_->progress() : progress_;
}

RunCheckpoint HostedRun::Save() const {
  RunCheckpoint checkpoint = run_->Save();
  if (chip_power_ != nullptr) checkpoint.power_sum_mw = power_sum_mw_;
  return checkpoint;
}

absl::Status HostedRun::Restore(const RunCheckpoint& checkpoint) {
  if (absl::Status s = run_->Restore(checkpoint); !s.ok()) return s;
  progress_ = run_->progress();
  power_sum_mw_ = checkpoint.power_sum_mw;
  return absl::OkStatus();
}

void NoteDataLoaded(const RunOptions& options, const TrainTestSplit& data) {
  Note(options, absl::StrCat("data loaded: ", data.source, ", ", data.train.size(),
                             " training and ", data.test.size(), " test samples"));
}

absl::StatusOr<ChipModel> LoadFromModel(const photonic::v1::SessionConfig& c, RunChip& chip,
                                        const RunOptions& options, RunResources& resources,
                                        bool deployed_on_resume) {
  absl::StatusOr<ChipModel> placed =
      chip.model(c.from_model(), options.resume_from == nullptr || deployed_on_resume);
  if (!placed.ok()) return placed.status();
  const photonic::v1::ModelSpec spec = placed->model.spec();
  absl::StatusOr<onn::ModelData> data =
      onn::LoadModelData(spec, options.fashion_mnist_dir, c.train_samples(), c.test_samples());
  if (!data.ok()) return data.status();
  resources.data = std::make_unique<TrainTestSplit>(
      TrainTestSplit{std::move(data->train), std::move(data->test), spec.input().dataset()});
  NoteDataLoaded(options, *resources.data);
  return placed;
}

absl::Status AfterModelStep(const photonic::v1::SessionConfig& config,
                            const std::function<absl::StatusOr<double>()>& evaluate,
                            TrainingProgress& progress, StopReason& stop_reason) {
  if (progress.step % std::max(1, config.eval_every()) == 0 ||
      progress.step >= config.max_steps()) {
    absl::StatusOr<double> accuracy = evaluate();
    if (!accuracy.ok()) return accuracy.status();
    progress.test_accuracy = *accuracy;
    if (config.target_accuracy() > 0.0 && *accuracy >= config.target_accuracy()) {
      stop_reason = StopReason::kTargetAccuracy;
    }
  }
  if (stop_reason == StopReason::kNone && progress.step >= config.max_steps()) {
    stop_reason = StopReason::kMaxSteps;
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ChipTestAccuracy(onn::Model& model, const onn::ChipPlacement& placement,
                                        ChipOracle& oracle, const TrainTestSplit& data,
                                        const photonic::v1::SessionConfig& config) {
  const int n = std::min(config.test_samples(), data.test.size());
  const Dataset subset{data.test.features.topRows(n),
                       {data.test.labels.begin(), data.test.labels.begin() + n},
                       data.test.classes};
  absl::StatusOr<onn::ChipEvaluation> e = onn::ChipAccuracy(model, placement, oracle, subset);
  if (!e.ok()) return e.status();
  return e->accuracy;
}

absl::Status DeployModel(const onn::Model& model, const onn::ChipPlacement& placement,
                         ChipOracle& oracle, std::span<const double> base_phases) {
  return oracle.SetPhases(onn::DeployedPhases(model, oracle.layout(), placement, base_phases));
}

absl::Status RestoreModelRun(
    const RunCheckpoint& checkpoint, std::string_view algorithm,
    const photonic::v1::SessionConfig& config, onn::Model& model,
    const std::function<absl::Status(std::span<const double>)>& restore_optimizer,
    TrainingProgress& progress, StopReason& stop_reason) {
  if (checkpoint.params.size() != static_cast<std::size_t>(model.parameter_count())) {
    return absl::DataLossError(
        absl::StrCat(std::string(algorithm), " checkpoint: its parameters do not fit the model"));
  }
  if (absl::Status s = restore_optimizer(checkpoint.optimizer_state); !s.ok()) {
    return absl::DataLossError(absl::StrCat(std::string(algorithm), " checkpoint: ", s.message()));
  }
  model.SetParameters(Eigen::Map<const Eigen::VectorXd>(
      checkpoint.params.data(), static_cast<Eigen::Index>(checkpoint.params.size())));
  progress = checkpoint.progress;
  if (progress.step >= config.max_steps()) stop_reason = StopReason::kMaxSteps;
  return absl::OkStatus();
}

absl::StatusOr<StartedRun> Started(
    RunResources resources, std::unique_ptr<Run> run, RunChip* chip_power, int trained_parameters,
    const RunOptions& options, const std::function<absl::StatusOr<double>()>& initial_accuracy) {
  StartedRun started;
  started.trained_parameters = trained_parameters;
  started.dataset_source = resources.data->source;
  started.run = std::make_unique<HostedRun>(std::move(resources), std::move(run), chip_power);
  if (options.resume_from != nullptr) {
    if (absl::Status s = started.run->Restore(*options.resume_from); !s.ok()) return s;
  } else {
    absl::StatusOr<double> initial = initial_accuracy();
    if (!initial.ok()) return initial.status();
    started.initial_test_accuracy = *initial;
  }
  return started;
}

}  // namespace runs

namespace {

// One row per algorithm name; the order is the one messages list.
constexpr Algorithm kAlgorithms[] = {
    {"coordinate_zo", runs::ValidateZo, runs::CreateZo},
    {"gaussian_zo", runs::ValidateZo, runs::CreateZo},
    {"spsa", runs::ValidateZo, runs::CreateZo},
    {"stp", runs::ValidateZo, runs::CreateZo},
    {"cocd", runs::ValidateZo, runs::CreateZo},
    {"sparse_cocd", runs::ValidateZo, runs::CreateZo},
    {"zo_adam", runs::ValidateZo, runs::CreateZo},
    {"sparse_zo", runs::ValidateZo, runs::CreateZo},
    {"pat", runs::ValidateInSitu, runs::CreateInSitu},
    {"dat", runs::ValidateInSitu, runs::CreateInSitu},
    {"ntkd", runs::ValidateNtkd, runs::CreateNtkd},
    {"dfa", runs::ValidateDfa, runs::CreateDfa},
    {"gift", runs::ValidateGift, runs::CreateGift},
};

absl::StatusOr<const Algorithm*> Named(std::string_view name) {
  if (const Algorithm* algorithm = FindAlgorithm(name)) return algorithm;
  std::string names;
  for (const Algorithm& a : kAlgorithms) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", std::string(a.name));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("algorithm.name = \"", std::string(name), "\" is not one of ", names));
}

}  // namespace

std::span<const Algorithm> Algorithms() { return kAlgorithms; }

const Algorithm* FindAlgorithm(std::string_view name) {
  const auto it = std::ranges::find(kAlgorithms, name, &Algorithm::name);
  return it == std::end(kAlgorithms) ? nullptr : it;
}

absl::StatusOr<ChipModel> RunChip::model(const std::string& model_id, bool /*must_be_deployed*/) {
  return absl::FailedPreconditionError(
      absl::StrCat("model ", model_id, ": this host keeps no models"));
}

absl::StatusOr<onn::Model> RunChip::stored_model(const std::string& model_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("model ", model_id, ": this host keeps no models"));
}

absl::Status ValidateRun(const photonic::v1::SessionConfig& config,
                         const photonic::v1::ChipDescription& chip,
                         const photonsim::ChipLayout& layout) {
  absl::StatusOr<const Algorithm*> algorithm = Named(config.algorithm().name());
  if (!algorithm.ok()) return algorithm.status();
  if (!config.algorithm().teacher_model().empty() && (*algorithm)->create != runs::CreateNtkd) {
    return absl::InvalidArgumentError(absl::StrCat("teacher_model: ", config.algorithm().name(),
                                                   " takes no teacher (ntkd does)"));
  }
  if (!config.from_model().empty() && (*algorithm)->create != runs::CreateZo &&
      (*algorithm)->create != runs::CreateGift && (*algorithm)->create != runs::CreateNtkd &&
      (*algorithm)->create != runs::CreateInSitu) {
    return absl::InvalidArgumentError(
        absl::StrCat("from_model: ", config.algorithm().name(),
                     " cannot start from a model; coordinate_zo, gaussian_zo, spsa, stp, cocd, "
                     "sparse_cocd, zo_adam, sparse_zo, pat, dat, gift and ntkd can"));
  }
  return (*algorithm)->validate(config, chip, layout);
}

absl::StatusOr<StartedRun> CreateRun(const photonic::v1::SessionConfig& config, RunChip& chip,
                                     const RunOptions& options) {
  absl::StatusOr<const Algorithm*> algorithm = Named(config.algorithm().name());
  if (!algorithm.ok()) return algorithm.status();
  return (*algorithm)->create(config, chip, options);
}

}  // namespace phc::trainers
