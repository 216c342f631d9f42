// Training a differentiable ONN model in silico, and adapting it in situ on
// a physical system (a chip behind a ChipOracle, or any BlockMeasurer):
//   - physics-aware training (PAT): the forward pass is measured, block by
//     block, on the physical system; gradients flow back through the model
//     at its own states;
//   - dual adaptive training (DAT, Zheng et al., Nat. Mach. Intell. 2023):
//     PAT plus, per minibatch, a similarity step that fits the model's
//     systematic-error prediction layers to the same measurements (so the
//     model the gradients come from matches the chip), each with its own
//     Adam (the two losses are not summed).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/diff/network.h"

namespace phc::trainers::diff {

// The model's optical blocks run one at a time on one mesh circuit of a
// chip (time-multiplexed: its phases are rewritten per block). Powers are
// returned in units of the laser power per input.
class OracleMeasurer final : public BlockMeasurer {
 public:
  // REQUIRES: the circuit is a mesh with the model meshes' size and layout.
  OracleMeasurer(ChipOracle& chip, int circuit, double laser_power_mw);
  // INVALID_ARGUMENT for a block of more than one mesh (the chip has one)
  // or for complex fields (its modulators set real amplitudes).
  absl::StatusOr<Eigen::MatrixXd> Measure(int block, std::span<const MeshLayer* const> meshes,
                                          const MatrixXc& fields) override;
  std::int64_t measurements() const { return measurements_; }

 private:
  ChipOracle& chip_;
  photonsim::CircuitLayout circuit_;
  double laser_power_mw_;
  std::int64_t measurements_ = 0;
};

// A simulated physical system: a second network with the model's layer
// structure and its own hidden errors, its meshes set to the model's phases
// block by block (the twin's error-prediction layers, if any, stay off).
class NetworkMeasurer final : public BlockMeasurer {
 public:
  explicit NetworkMeasurer(Network& physical) : physical_(physical) {}
  absl::StatusOr<Eigen::MatrixXd> Measure(int block, std::span<const MeshLayer* const> meshes,
                                          const MatrixXc& fields) override;

 private:
  Network& physical_;
};

struct TrainOptions {
  int epochs = 10;
  int batch = 100;
  double learning_rate = 0.01;        // photonic and digital parameters
  double sepn_learning_rate = 0.001;  // DAT's error-prediction layers (the paper: 1e-3)
  int sepn_warmup_epochs = 1;         // DAT: predictions enter the forward pass after these
  double phase_noise_rad = 0.0;       // in silico: phase noise injected while training
  // Both learning rates halve every lr_halving_epochs epochs (0: never;
  // DAT's authors: 10, PyTorch's StepLR(10, 0.5)).
  int lr_halving_epochs = 0;
  std::uint64_t seed = 1;
};

struct EpochReport {
  int epoch = 0;
  double train_loss = 0.0;
  double similarity_mse = 0.0;  // DAT: mean squared error of the predicted powers
  double accuracy = 0.0;        // on the evaluation set (physical when in situ)
  std::int64_t measurements = 0;
};
using EpochCallback = std::function<void(const EpochReport&)>;

// Adam on every parameter against the model alone.
void TrainInSilico(Network& model, const Dataset& train, const Dataset& evaluation,
                   const TrainOptions& options, const EpochCallback& on_epoch = nullptr);

enum class InSituMethod { kPhysicsAware, kDualAdaptive };

// PAT or DAT one minibatch at a time: one measured forward pass, then
// (DAT) the similarity step on the error-prediction layers and the task step
// on every other parameter, from the same measurements.
class InSituTrainer {
 public:
  // DAT: INVALID_ARGUMENT without error-prediction layers in the model.
  static absl::StatusOr<std::unique_ptr<InSituTrainer>> Create(Network& model,
                                                               BlockMeasurer& physical,
                                                               InSituMethod method,
                                                               const TrainOptions& options);
  // The minibatch loss. predictions_in_forward: DAT's warm-up is over (the
  // predictions shape the model's states, hence the gradients).
  absl::StatusOr<double> Step(const Eigen::MatrixXd& features, std::span<const int> labels,
                              bool predictions_in_forward);
  double last_similarity_mse() const { return last_similarity_mse_; }
  // Both optimizers' rates times `factor` (a schedule).
  void ScaleLearningRates(double factor);
  std::int64_t measurements() const { return measurements_; }
  // Both optimizers' states, for checkpoints.
  std::vector<double> SaveState() const;
  absl::Status RestoreState(std::span<const double> state);

 private:
  InSituTrainer(Network& model, BlockMeasurer& physical, InSituMethod method,
                const TrainOptions& options);
  Network& model_;
  BlockMeasurer& physical_;
  const bool dual_;
  std::vector<PredictionLayer*> predictions_;
  AdamGroup task_;
  AdamGroup fit_;
  double task_rate_;
  double fit_rate_;
  double last_similarity_mse_ = 0.0;
  std::int64_t measurements_ = 0;
};

// PAT or DAT on the physical system. DAT REQUIRES error-prediction layers
// in the model; PAT leaves them as they are.
absl::Status TrainInSitu(Network& model, BlockMeasurer& physical, InSituMethod method,
                         const Dataset& train, const Dataset& evaluation,
                         const TrainOptions& options, const EpochCallback& on_epoch = nullptr);

double ModelAccuracy(Network& model, const Dataset& data);
absl::StatusOr<double> PhysicalAccuracy(Network& model, BlockMeasurer& physical,
                                        const Dataset& data, int batch = 500);

}  // namespace phc::trainers::diff
