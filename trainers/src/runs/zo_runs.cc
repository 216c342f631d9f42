// coordinate_zo, gaussian_zo, spsa, stp, cocd, sparse_cocd, zo_adam, sparse_zo sessions: a network
// on the chip (an ONN of widths mapped onto the chip's circuits, or a deployed model), its phases
// trained by a zeroth-order optimizer through the chip's oracle.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/model_network.h"
#include "phc/trainers/training_loop.h"
#include "session_runs.h"

namespace phc::trainers {

using photonic::v1::SessionConfig;

SessionConfig WithSparseZoNames(const SessionConfig& config) {
  SessionConfig c = config;
  photonic::v1::TrainingAlgorithm& a = *c.mutable_algorithm();
  const bool model = !c.from_model().empty();
  if (!a.has_active_fraction()) {
    a.set_active_fraction(a.has_param_sparsity() ? 1.0 - a.param_sparsity() : model ? 0.15 : 0.4);
  }
  if (!a.has_param_sparsity()) a.set_param_sparsity(1.0 - a.active_fraction());
  if (!a.has_visit_fraction()) {
    a.set_visit_fraction(a.has_grad_sparsity() ? 1.0 - a.grad_sparsity() : 0.1);
  }
  if (!a.has_grad_sparsity()) a.set_grad_sparsity(1.0 - a.visit_fraction());
  if (!a.has_prune_probability()) a.set_prune_probability(a.disable_power_aware() ? 0.0 : 1.0);
  if (!a.has_step_decay() && model && a.name() == "sparse_zo") a.set_step_decay(0.985);
  return c;
}

namespace runs {
namespace {

AlgorithmConfig AlgorithmFrom(const SessionConfig& config) {
  const SessionConfig c = WithSparseZoNames(config);
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  const int batch = std::max(1, c.batch_size());
  return {.name = a.name(),
          .learning_rate = a.learning_rate(),
          .perturbation_rad = a.perturbation_rad(),
          .samples_per_step = a.samples_per_step(),
          .active_fraction = a.active_fraction(),
          .visit_fraction = a.visit_fraction(),
          .prune_probability = a.prune_probability(),
          .step_decay = a.step_decay(),
          .decay_every = std::max(1, c.train_samples() / batch),
          .power_budget_mw = c.power_budget_mw(),
          .memory_decay = a.memory_decay(),
          .seed = c.seed()};
}

OnnArchitecture ArchitectureFrom(const SessionConfig& c) {
  return {{c.widths().begin(), c.widths().end()}, c.temperature(), c.first_circuit()};
}

// Both names of one sparse_zo setting given, and different.
absl::Status NamesAgree(const photonic::v1::TrainingAlgorithm& a) {
  auto differ = [](double x, double y) { return std::abs(x - y) > 1e-9; };
  if (a.has_active_fraction() && a.has_param_sparsity() &&
      differ(a.active_fraction(), 1.0 - a.param_sparsity())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm: active_fraction = ", a.active_fraction(), " and param_sparsity = ",
        a.param_sparsity(), " (its old name, 1 - active_fraction) disagree; give one"));
  }
  if (a.has_visit_fraction() && a.has_grad_sparsity() &&
      differ(a.visit_fraction(), 1.0 - a.grad_sparsity())) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm: visit_fraction = ", a.visit_fraction(), " and grad_sparsity = ",
                     a.grad_sparsity(), " (its old name, 1 - visit_fraction) disagree; give one"));
  }
  if (a.disable_power_aware() && a.has_prune_probability() && a.prune_probability() != 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm: disable_power_aware and prune_probability = ", a.prune_probability(),
        " disagree; give one"));
  }
  return absl::OkStatus();
}

absl::Status ValidateFromModel(const SessionConfig& c) {
  if (c.widths_size() > 0) {
    return absl::InvalidArgumentError(
        "widths: a from_model session takes its layers from the model; leave widths unset");
  }
  if (c.first_circuit() != 0) {
    return absl::InvalidArgumentError(
        "first_circuit: a from_model session runs on the model's deployed cores; leave it unset");
  }
  if (absl::Status s = ValidateAlgorithmConfig(AlgorithmFrom(c)); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", s.message()));
  }
  return absl::OkStatus();
}

// The network and data of a from_model session. A new session needs the
// model deployed now; a resumed one writes its checkpointed phases.
absl::Status PrepareFromModel(const SessionConfig& c, RunChip& chip, const RunOptions& options,
                              RunResources& resources) {
  absl::StatusOr<ChipModel> placed = LoadFromModel(c, chip, options, resources);
  if (!placed.ok()) return placed.status();
  resources.network = std::make_unique<onn::DeployedModelNetwork>(
      std::move(placed->model), std::move(placed->placement), chip.oracle().layout());
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateZo(const SessionConfig& c, const photonic::v1::ChipDescription& chip,
                        const photonsim::ChipLayout& layout) {
  if (absl::Status s = NamesAgree(c.algorithm()); !s.ok()) return s;
  if (!c.from_model().empty()) return ValidateFromModel(c);
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
  if (!c.from_model().empty()) {
    if (absl::Status s = PrepareFromModel(c, chip, options, resources); !s.ok()) return s;
  } else {
    absl::StatusOr<TrainTestSplit> data =
        LoadTrainingData(c.dataset(), c.widths(0), c.widths(c.widths_size() - 1), c.train_samples(),
                         c.test_samples(), c.seed(), options.fashion_mnist_dir);
    if (!data.ok()) return data.status();
    resources.data = std::make_unique<TrainTestSplit>(*std::move(data));
    NoteDataLoaded(options, *resources.data);
    absl::StatusOr<OnnModel> model = OnnModel::Create(chip.oracle().layout(), ArchitectureFrom(c));
    if (!model.ok()) return model.status();
    resources.network = std::make_unique<OnnModel>(*std::move(model));
  }
  chip.StartAccounting();
  ChipNetwork& network = *resources.network;
  absl::StatusOr<std::unique_ptr<ZoOptimizer>> optimizer =
      MakeOptimizer(AlgorithmFrom(c), network, chip.oracle());
  if (!optimizer.ok()) return optimizer.status();
  // A new session starts from the phases on the chip (a mapped or deployed
  // model, or every heater off); a resumed one from its checkpoint (Restore).
  const std::vector<double> base = chip.phases_rad();
  std::vector<double> params;
  for (int index : network.trainable_phases()) params.push_back(base[index]);
  auto run = std::make_unique<TrainingRun>(
      chip.oracle(), network, resources.data->train, resources.data->test, *std::move(optimizer),
      TrainingOptions{.batch_size = c.batch_size(),
                      .max_steps = c.max_steps(),
                      .max_loss_evaluations = c.max_loss_evaluations(),
                      .target_accuracy = c.target_accuracy(),
                      .eval_every = c.eval_every(),
                      .eval_samples = c.test_samples(),
                      .power_budget_mw = c.power_budget_mw(),
                      .seed = c.seed()},
      base, params);
  const int trained = static_cast<int>(network.trainable_phases().size());
  TrainingRun* zo = run.get();
  const Dataset& test = resources.data->test;
  return Started(std::move(resources), std::move(run), nullptr, trained, options,
                 [&] { return zo->Evaluate(test, c.test_samples()); });
}

}  // namespace runs
}  // namespace phc::trainers
