#include "phc/trainers/diff/in_situ.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/onn_model.h"

namespace phc::trainers::diff {
namespace {

bool IsPrediction(const Layer& layer) { return layer.optical_correction(); }
bool IsTask(const Layer& layer) { return !layer.optical_correction(); }

// The schedule's factor for `epoch` (1-based).
double ScheduleFactor(const TrainOptions& options, int epoch) {
  if (options.lr_halving_epochs <= 0) return 1.0;
  return std::pow(0.5, (epoch - 1) / options.lr_halving_epochs);
}

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
  absl::StatusOr<Eigen::MatrixXd> Measure(int block, std::span<const MeshLayer* const>,
                                          const MatrixXc&) override {
    return measured_.at(block);
  }

 private:
  const std::vector<Eigen::MatrixXd>& measured_;
};

std::vector<PredictionLayer*> Predictions(const Network& net) {
  std::vector<PredictionLayer*> out;
  for (const auto& layer : net.layers()) {
    if (auto* p = dynamic_cast<PredictionLayer*>(layer.get())) out.push_back(p);
  }
  return out;
}

// DAT's similarity step: every block of the model (with its predictions)
// fitted to the powers measured for the same inputs. Returns the MSE.
double SimilarityStep(Network& model, const std::vector<MatrixXc>& inputs,
                      const std::vector<Eigen::MatrixXd>& measured, AdamGroup& predictions) {
  model.ZeroGradients();
  const std::vector<Network::OpticalBlock> blocks = model.OpticalBlocks();
  double mse = 0.0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const Eigen::MatrixXd predicted = model.ForwardRange(blocks[b], inputs[b]).real();
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

absl::StatusOr<Eigen::MatrixXd> OracleMeasurer::Measure(int /*block*/,
                                                        std::span<const MeshLayer* const> meshes,
                                                        const MatrixXc& fields) {
  if (meshes.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("an optical block of ", meshes.size(),
                                                   " cascaded meshes; circuit ", circuit_.name,
                                                   " is one mesh"));
  }
  const MeshLayer& mesh = *meshes[0];
  if (mesh.phase_count() != circuit_.phase_count || mesh.in_width() != circuit_.input_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("model mesh (", mesh.in_width(), " modes, ", mesh.phase_count(),
                     " phases) does not fit circuit ", circuit_.name));
  }
  if ((fields.imag().array() != 0.0).any()) {
    return absl::InvalidArgumentError(
        absl::StrCat("complex input fields: the modulators of circuit ", circuit_.name,
                     " set real amplitudes (complex inputs run on a twin network only)"));
  }
  const Eigen::MatrixXd amplitudes = fields.real();
  std::vector<double> phases(chip_.layout().phase_count, 0.0);
  std::copy(mesh.phases().begin(), mesh.phases().end(), phases.begin() + circuit_.first_phase);
  if (absl::Status s = chip_.SetPhases(phases); !s.ok()) return s;
  // Every row in one sweep (ChipOracle::QueryBatch).
  const auto inputs = static_cast<std::size_t>(chip_.layout().input_count);
  const auto outputs = static_cast<std::size_t>(chip_.layout().output_count);
  std::vector<double> rows(static_cast<std::size_t>(amplitudes.rows()) * inputs, 0.0);
  for (Eigen::Index b = 0; b < amplitudes.rows(); ++b) {
    for (int k = 0; k < circuit_.input_count; ++k) {
      rows[b * inputs + circuit_.first_input + k] = std::clamp(amplitudes(b, k), 0.0, 1.0);
    }
  }
  absl::StatusOr<std::vector<double>> out = chip_.QueryBatch(rows);
  if (!out.ok()) return out.status();
  measurements_ += amplitudes.rows();
  Eigen::MatrixXd powers(amplitudes.rows(), circuit_.output_count);
  for (Eigen::Index b = 0; b < amplitudes.rows(); ++b) {
    for (int k = 0; k < circuit_.output_count; ++k) {
      powers(b, k) = (*out)[b * outputs + circuit_.first_output + k] / laser_power_mw_;
    }
  }
  return powers;
}

absl::StatusOr<Eigen::MatrixXd> NetworkMeasurer::Measure(int block,
                                                         std::span<const MeshLayer* const> meshes,
                                                         const MatrixXc& fields) {
  const std::vector<Network::OpticalBlock> blocks = physical_.OpticalBlocks();
  if (block < 0 || block >= static_cast<int>(blocks.size())) {
    return absl::InvalidArgumentError(absl::StrCat("the twin has no optical block ", block));
  }
  std::size_t k = 0;
  for (std::size_t j = blocks[block].first; j <= blocks[block].last; ++j) {
    auto* mesh = dynamic_cast<MeshLayer*>(physical_.layers()[j].get());
    if (mesh == nullptr) continue;
    if (k >= meshes.size() || meshes[k]->phase_count() != mesh->phase_count()) {
      return absl::InvalidArgumentError("the twin's block does not match the model's");
    }
    std::copy(meshes[k]->phases().begin(), meshes[k]->phases().end(), mesh->parameters().begin());
    ++k;
  }
  return physical_.ForwardRange(blocks[block], fields).real();
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
    task.adam().set_learning_rate(options.learning_rate * ScheduleFactor(options, epoch));
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

InSituTrainer::InSituTrainer(Network& model, BlockMeasurer& physical, InSituMethod method,
                             const TrainOptions& options)
    : model_(model),
      physical_(physical),
      dual_(method == InSituMethod::kDualAdaptive),
      predictions_(Predictions(model)),
      task_(model, IsTask, options.learning_rate),
      fit_(model, IsPrediction, options.sepn_learning_rate),
      task_rate_(options.learning_rate),
      fit_rate_(options.sepn_learning_rate) {}

void InSituTrainer::ScaleLearningRates(double factor) {
  task_.adam().set_learning_rate(task_rate_ * factor);
  fit_.adam().set_learning_rate(fit_rate_ * factor);
}

absl::StatusOr<std::unique_ptr<InSituTrainer>> InSituTrainer::Create(Network& model,
                                                                     BlockMeasurer& physical,
                                                                     InSituMethod method,
                                                                     const TrainOptions& options) {
  if (method == InSituMethod::kDualAdaptive && Predictions(model).empty()) {
    return absl::InvalidArgumentError("DAT needs error-prediction layers in the model");
  }
  return std::unique_ptr<InSituTrainer>(new InSituTrainer(model, physical, method, options));
}

absl::StatusOr<double> InSituTrainer::Step(const Eigen::MatrixXd& features,
                                           std::span<const int> labels,
                                           bool predictions_in_forward) {
  const bool use_predictions = !dual_ || predictions_in_forward;
  for (PredictionLayer* p : predictions_) p->set_enabled(use_predictions);
  std::vector<MatrixXc> inputs;
  std::vector<Eigen::MatrixXd> measured;
  absl::StatusOr<Eigen::MatrixXd> logits =
      model_.ForwardMeasured(features, physical_, &inputs, &measured);
  if (!logits.ok()) return logits.status();
  measurements_ += features.rows() * static_cast<std::int64_t>(measured.size());
  if (dual_) {
    for (PredictionLayer* p : predictions_) p->set_enabled(true);
    last_similarity_mse_ = SimilarityStep(model_, inputs, measured, fit_);
    for (PredictionLayer* p : predictions_) p->set_enabled(use_predictions);
  }
  Replay replay(measured);
  absl::StatusOr<double> loss = model_.LossAndGradientsMeasured(features, labels, replay);
  if (!loss.ok()) return loss.status();
  task_.Step();
  return loss;
}

std::vector<double> InSituTrainer::SaveState() const {
  std::vector<double> state = task_.adam().SaveState();
  const std::vector<double> fit = fit_.adam().SaveState();
  state.insert(state.end(), fit.begin(), fit.end());
  return state;
}

absl::Status InSituTrainer::RestoreState(std::span<const double> state) {
  const std::size_t task_size = task_.adam().SaveState().size();
  if (state.size() != task_size + fit_.adam().SaveState().size()) {
    return absl::InvalidArgumentError("optimizer state does not fit the model");
  }
  if (absl::Status s = task_.adam().RestoreState(state.subspan(0, task_size)); !s.ok()) return s;
  return fit_.adam().RestoreState(state.subspan(task_size));
}

absl::Status TrainInSitu(Network& model, BlockMeasurer& physical, InSituMethod method,
                         const Dataset& train, const Dataset& evaluation,
                         const TrainOptions& options, const EpochCallback& on_epoch) {
  absl::StatusOr<std::unique_ptr<InSituTrainer>> trainer =
      InSituTrainer::Create(model, physical, method, options);
  if (!trainer.ok()) return trainer.status();
  std::mt19937_64 rng(options.seed);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    (*trainer)->ScaleLearningRates(ScheduleFactor(options, epoch));
    const std::vector<int> order = Shuffled(train.size(), rng);
    double loss = 0.0, similarity = 0.0;
    int batches = 0;
    for (int start = 0; start < train.size(); start += options.batch, ++batches) {
      const Batch b = Take(train, order, start, options.batch);
      absl::StatusOr<double> batch_loss =
          (*trainer)->Step(b.features, b.labels, epoch > options.sepn_warmup_epochs);
      if (!batch_loss.ok()) return batch_loss.status();
      loss += *batch_loss;
      similarity += (*trainer)->last_similarity_mse();
    }
    absl::StatusOr<double> accuracy = PhysicalAccuracy(model, physical, evaluation);
    if (!accuracy.ok()) return accuracy.status();
    if (on_epoch) {
      on_epoch(
          {epoch, loss / batches, similarity / batches, *accuracy, (*trainer)->measurements()});
    }
  }
  return absl::OkStatus();
}

}  // namespace phc::trainers::diff
