#include "phc/trainers/diff/in_situ.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/onn_model.h"

namespace phc::trainers::diff {
namespace {

// Parameters of the layers `select` picks, flattened, and back.
using Selector = std::function<bool(const Layer&)>;

bool IsPrediction(const Layer& layer) { return layer.optical_correction(); }
bool IsTask(const Layer& layer) { return !layer.optical_correction(); }

Eigen::VectorXd Gather(const Network& net, const Selector& select, bool gradients) {
  std::vector<double> out;
  for (const auto& layer : net.layers()) {
    if (!select(*layer)) continue;
    const std::span<double> values = gradients ? layer->gradients() : layer->parameters();
    out.insert(out.end(), values.begin(), values.end());
  }
  return Eigen::Map<Eigen::VectorXd>(out.data(), static_cast<Eigen::Index>(out.size()));
}

void Scatter(Network& net, const Selector& select, const Eigen::VectorXd& values) {
  Eigen::Index k = 0;
  for (const auto& layer : net.layers()) {
    if (!select(*layer)) continue;
    for (double& p : layer->parameters()) p = values(k++);
  }
}

class AdamGroup {
 public:
  AdamGroup(Network& net, Selector select, double learning_rate)
      : net_(net),
        select_(std::move(select)),
        adam_(static_cast<int>(Gather(net, select_, false).size()), learning_rate) {}
  void Step() {
    Eigen::VectorXd params = Gather(net_, select_, false);
    adam_.Step(params, Gather(net_, select_, true));
    Scatter(net_, select_, params);
  }

 private:
  Network& net_;
  Selector select_;
  Adam adam_;
};

std::vector<int> Shuffled(int n, std::mt19937_64& rng) {
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

struct Batch {
  Eigen::MatrixXd features;
  std::vector<int> labels;
};

Batch Take(const Dataset& data, const std::vector<int>& order, int start, int size) {
  const int end = std::min<int>(start + size, static_cast<int>(order.size()));
  Batch batch{Eigen::MatrixXd(end - start, data.feature_count()), {}};
  for (int i = start; i < end; ++i) {
    batch.features.row(i - start) = data.features.row(order[i]);
    batch.labels.push_back(data.labels[order[i]]);
  }
  return batch;
}

// Replays the powers measured for a minibatch (the same phases and inputs).
class Replay final : public BlockMeasurer {
 public:
  explicit Replay(const std::vector<Eigen::MatrixXd>& measured) : measured_(measured) {}
  absl::StatusOr<Eigen::MatrixXd> Measure(int block, const MeshLayer&,
                                          const Eigen::MatrixXd&) override {
    return measured_.at(block);
  }

 private:
  const std::vector<Eigen::MatrixXd>& measured_;
};

std::vector<ErrorPredictionLayer*> Predictions(const Network& net) {
  std::vector<ErrorPredictionLayer*> out;
  for (const auto& layer : net.layers()) {
    if (auto* p = dynamic_cast<ErrorPredictionLayer*>(layer.get())) out.push_back(p);
  }
  return out;
}

// DAT's similarity step: every block of the model (with its predictions)
// fitted to the powers measured for the same inputs. Returns the MSE.
double SimilarityStep(Network& model, const std::vector<Eigen::MatrixXd>& inputs,
                      const std::vector<Eigen::MatrixXd>& measured, AdamGroup& predictions) {
  model.ZeroGradients();
  const std::vector<Network::OpticalBlock> blocks = model.OpticalBlocks();
  double mse = 0.0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const Eigen::MatrixXd predicted =
        model.ForwardRange(blocks[b], inputs[b].cast<Complex>()).real();
    const Eigen::MatrixXd error = predicted - measured[b];
    const double count = static_cast<double>(error.size());
    mse += error.squaredNorm() / count;
    model.BackwardRange(blocks[b], (2.0 / count * error).cast<Complex>());
  }
  predictions.Step();
  return mse / static_cast<double>(blocks.size());
}

}  // namespace

OracleMeasurer::OracleMeasurer(ChipOracle& chip, int circuit, double laser_power_mw)
    : chip_(chip), circuit_(chip.layout().circuits.at(circuit)), laser_power_mw_(laser_power_mw) {}

absl::StatusOr<Eigen::MatrixXd> OracleMeasurer::Measure(int /*block*/, const MeshLayer& mesh,
                                                        const Eigen::MatrixXd& amplitudes) {
  if (mesh.phase_count() != circuit_.phase_count || mesh.in_width() != circuit_.input_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("model mesh (", mesh.in_width(), " modes, ", mesh.phase_count(),
                     " phases) does not fit circuit ", circuit_.name));
  }
  std::vector<double> phases(chip_.layout().phase_count, 0.0);
  std::copy(mesh.phases().begin(), mesh.phases().end(), phases.begin() + circuit_.first_phase);
  if (absl::Status s = chip_.SetPhases(phases); !s.ok()) return s;
  std::vector<double> inputs(chip_.layout().input_count, 0.0);
  Eigen::MatrixXd powers(amplitudes.rows(), circuit_.output_count);
  for (Eigen::Index b = 0; b < amplitudes.rows(); ++b) {
    for (int k = 0; k < circuit_.input_count; ++k) {
      inputs[circuit_.first_input + k] = std::clamp(amplitudes(b, k), 0.0, 1.0);
    }
    absl::StatusOr<std::vector<double>> out = chip_.Query(inputs);
    if (!out.ok()) return out.status();
    ++measurements_;
    for (int k = 0; k < circuit_.output_count; ++k) {
      powers(b, k) = (*out)[circuit_.first_output + k] / laser_power_mw_;
    }
  }
  return powers;
}

double ModelAccuracy(Network& model, const Dataset& data) {
  return Accuracy(model.Forward(data.features), data.labels);
}

absl::StatusOr<double> PhysicalAccuracy(Network& model, BlockMeasurer& physical,
                                        const Dataset& data, int batch) {
  std::vector<int> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  int correct = 0;
  for (int start = 0; start < data.size(); start += batch) {
    const Batch b = Take(data, order, start, batch);
    absl::StatusOr<Eigen::MatrixXd> logits = model.ForwardMeasured(b.features, physical);
    if (!logits.ok()) return logits.status();
    correct += static_cast<int>(std::lround(Accuracy(*logits, b.labels) * b.labels.size()));
  }
  return static_cast<double>(correct) / data.size();
}

void TrainInSilico(Network& model, const Dataset& train, const Dataset& evaluation,
                   const TrainOptions& options, const EpochCallback& on_epoch) {
  std::mt19937_64 rng(options.seed);
  std::mt19937_64 noise_rng(options.seed ^ 0x9e3779b97f4a7c15ULL);
  for (MeshLayer* mesh : model.meshes()) mesh->SetPhaseNoise(options.phase_noise_rad, &noise_rng);
  AdamGroup task(model, IsTask, options.learning_rate);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const std::vector<int> order = Shuffled(train.size(), rng);
    double loss = 0.0;
    int batches = 0;
    for (int start = 0; start < train.size(); start += options.batch, ++batches) {
      const Batch b = Take(train, order, start, options.batch);
      loss += model.LossAndGradients(b.features, b.labels);
      task.Step();
    }
    for (MeshLayer* mesh : model.meshes()) mesh->SetPhaseNoise(0.0, nullptr);
    if (on_epoch) on_epoch({epoch, loss / batches, 0.0, ModelAccuracy(model, evaluation), 0});
    for (MeshLayer* mesh : model.meshes()) mesh->SetPhaseNoise(options.phase_noise_rad, &noise_rng);
  }
  for (MeshLayer* mesh : model.meshes()) mesh->SetPhaseNoise(0.0, nullptr);
}

absl::Status TrainInSitu(Network& model, BlockMeasurer& physical, InSituMethod method,
                         const Dataset& train, const Dataset& evaluation,
                         const TrainOptions& options, const EpochCallback& on_epoch) {
  const std::vector<ErrorPredictionLayer*> predictions = Predictions(model);
  const bool dual = method == InSituMethod::kDualAdaptive;
  if (dual && predictions.empty()) {
    return absl::InvalidArgumentError("DAT needs error-prediction layers in the model");
  }
  std::mt19937_64 rng(options.seed);
  AdamGroup task(model, IsTask, options.learning_rate);
  AdamGroup fit(model, IsPrediction, options.sepn_learning_rate);
  std::int64_t measurements = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    for (ErrorPredictionLayer* p : predictions) {
      p->set_enabled(!dual || epoch > options.sepn_warmup_epochs);
    }
    const std::vector<int> order = Shuffled(train.size(), rng);
    double loss = 0.0, similarity = 0.0;
    int batches = 0;
    for (int start = 0; start < train.size(); start += options.batch, ++batches) {
      const Batch b = Take(train, order, start, options.batch);
      std::vector<Eigen::MatrixXd> inputs, measured;
      absl::StatusOr<Eigen::MatrixXd> logits =
          model.ForwardMeasured(b.features, physical, &inputs, &measured);
      if (!logits.ok()) return logits.status();
      measurements += b.features.rows() * static_cast<std::int64_t>(measured.size());
      if (dual) {
        for (ErrorPredictionLayer* p : predictions) p->set_enabled(true);
        similarity += SimilarityStep(model, inputs, measured, fit);
        for (ErrorPredictionLayer* p : predictions) {
          p->set_enabled(epoch > options.sepn_warmup_epochs);
        }
      }
      Replay replay(measured);
      absl::StatusOr<double> batch_loss =
          model.LossAndGradientsMeasured(b.features, b.labels, replay);
      if (!batch_loss.ok()) return batch_loss.status();
      loss += *batch_loss;
      task.Step();
    }
    absl::StatusOr<double> accuracy = PhysicalAccuracy(model, physical, evaluation);
    if (!accuracy.ok()) return accuracy.status();
    if (on_epoch) {
      on_epoch({epoch, loss / batches, similarity / batches, *accuracy, measurements});
    }
  }
  return absl::OkStatus();
}

}  // namespace phc::trainers::diff
