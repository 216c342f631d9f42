// coordinate_zo, gaussian_zo, spsa, sparse_zo sessions: an ONN mapped onto
// the chip's circuits, its phases trained by a zeroth-order optimizer
// through the chip's oracle.
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/training_loop.h"
#include "session_runs.h"

namespace phc::trainers::runs {
namespace {

using photonic::v1::SessionConfig;

AlgorithmConfig AlgorithmFrom(const SessionConfig& config) {
  const photonic::v1::TrainingAlgorithm& a = config.algorithm();
  return {.name = a.name(),
          .learning_rate = a.learning_rate(),
          .perturbation_rad = a.perturbation_rad(),
          .samples_per_step = a.samples_per_step(),
          .param_sparsity = a.param_sparsity(),
          .grad_sparsity = a.grad_sparsity(),
          .power_aware = !a.disable_power_aware(),
          .power_budget_mw = config.power_budget_mw(),
          .seed = config.seed()};
}

OnnArchitecture ArchitectureFrom(const SessionConfig& c) {
  return {{c.widths().begin(), c.widths().end()}, c.temperature(), c.first_circuit()};
}

}  // namespace

absl::Status ValidateZo(const SessionConfig& c, const photonic::v1::ChipDescription& chip,
                        const photonsim::ChipLayout& layout) {
  absl::StatusOr<OnnModel> model = OnnModel::Create(layout, ArchitectureFrom(c));
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("widths: ", model.status().message()));
  }
  ModelOracle oracle(chip);
  absl::StatusOr<std::unique_ptr<ZoOptimizer>> optimizer =
      MakeOptimizer(AlgorithmFrom(c), *model, oracle);
  if (!optimizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", optimizer.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<StartedRun> CreateZo(const SessionConfig& c, RunChip& chip,
                                    const RunOptions& options) {
  RunResources resources;
  absl::StatusOr<TrainTestSplit> data =
      LoadTrainingData(c.dataset(), c.widths(0), c.widths(c.widths_size() - 1), c.train_samples(),
                       c.test_samples(), c.seed(), options.fashion_mnist_dir);
  if (!data.ok()) return data.status();
  resources.data = std::make_unique<TrainTestSplit>(*std::move(data));
  NoteDataLoaded(options, *resources.data);
  chip.StartAccounting();
  absl::StatusOr<OnnModel> model = OnnModel::Create(chip.oracle().layout(), ArchitectureFrom(c));
  if (!model.ok()) return model.status();
  resources.model = std::make_unique<OnnModel>(*std::move(model));
  absl::StatusOr<std::unique_ptr<ZoOptimizer>> optimizer =
      MakeOptimizer(AlgorithmFrom(c), *resources.model, chip.oracle());
  if (!optimizer.ok()) return optimizer.status();
  // A new session starts from the phases on the chip (a mapped model, or
  // every heater off); a resumed one from its checkpoint (Restore).
  const std::vector<double> base = chip.phases_rad();
  std::vector<double> params;
  for (int index : resources.model->trainable_phases()) params.push_back(base[index]);
  auto run = std::make_unique<TrainingRun>(
      chip.oracle(), *resources.model, resources.data->train, resources.data->test,
      *std::move(optimizer),
      TrainingOptions{.batch_size = c.batch_size(),
                      .max_steps = c.max_steps(),
                      .max_loss_evaluations = c.max_loss_evaluations(),
                      .target_accuracy = c.target_accuracy(),
                      .eval_every = c.eval_every(),
                      .eval_samples = c.test_samples(),
                      .power_budget_mw = c.power_budget_mw(),
                      .seed = c.seed()},
      base, params);
  const int trained = static_cast<int>(resources.model->trainable_phases().size());
  TrainingRun* zo = run.get();
  const Dataset& test = resources.data->test;
  return Started(std::move(resources), std::move(run), nullptr, trained, options,
                 [&] { return zo->Evaluate(test, c.test_samples()); });
}

}  // namespace phc::trainers::runs
