#include "phc/trainers/onn/model_in_situ.h"

#include <Eigen/Cholesky>
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "phc/trainers/diff/layers.h"

namespace phc::trainers::onn {
namespace {

// Rows of channel-major outputs (batch x channels*positions) as one row per
// sample and position ((batch*positions) x channels), and back.
Eigen::MatrixXd ToPositions(const Eigen::MatrixXd& y, int channels, int positions) {
  Eigen::MatrixXd z(y.rows() * positions, channels);
  for (Eigen::Index n = 0; n < y.rows(); ++n) {
    for (int c = 0; c < channels; ++c) {
      for (int p = 0; p < positions; ++p) z(n * positions + p, c) = y(n, c * positions + p);
    }
  }
  return z;
}

Eigen::MatrixXd FromPositions(const Eigen::MatrixXd& z, int channels, int positions) {
  Eigen::MatrixXd y(z.rows() / positions, channels * positions);
  for (Eigen::Index n = 0; n < y.rows(); ++n) {
    for (int c = 0; c < channels; ++c) {
      for (int p = 0; p < positions; ++p) y(n, c * positions + p) = z(n * positions + p, c);
    }
  }
  return y;
}

// The correction's shape for an optical layer: a convolution's output
// channels at each of its positions, or a linear layer's outputs.
LayerCorrection CorrectionFor(const ModelLayer& layer) {
  if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
    return LayerCorrection(conv->kernel_map().out_width(),
                           conv->geometry().out_height() * conv->geometry().out_width());
  }
  return LayerCorrection(layer.out_width(), 1);
}

void ZeroGradients(Model& model) {
  for (const auto& layer : model.layers()) {
    for (double& g : layer->gradients()) g = 0.0;
  }
}

}  // namespace

LayerCorrection::LayerCorrection(int channels, int positions)
    : channels_(channels),
      positions_(positions),
      mixing_(Eigen::MatrixXd::Zero(channels, channels)),
      offset_(Eigen::VectorXd::Zero(channels)),
      gram_(Eigen::MatrixXd::Zero(channels + 1, channels + 1)),
      target_(Eigen::MatrixXd::Zero(channels + 1, channels)) {
  PHC_CHECK(channels > 0 && positions > 0);
}

Eigen::MatrixXd LayerCorrection::Apply(const Eigen::MatrixXd& y) const {
  PHC_CHECK(y.cols() == channels_ * positions_);
  const Eigen::MatrixXd z = ToPositions(y, channels_, positions_);
  Eigen::MatrixXd corrected = z + z * mixing_.transpose();
  corrected.rowwise() += offset_.transpose();
  return FromPositions(corrected, channels_, positions_);
}

Eigen::MatrixXd LayerCorrection::Backward(const Eigen::MatrixXd& d_loss_d_corrected) const {
  PHC_CHECK(d_loss_d_corrected.cols() == channels_ * positions_);
  const Eigen::MatrixXd d = ToPositions(d_loss_d_corrected, channels_, positions_);
  return FromPositions(d + d * mixing_, channels_, positions_);
}

void LayerCorrection::Fit(const Eigen::MatrixXd& model_y, const Eigen::MatrixXd& measured_y,
                          double forgetting, double ridge) {
  PHC_CHECK(model_y.rows() == measured_y.rows() && model_y.cols() == measured_y.cols());
  PHC_CHECK(model_y.cols() == channels_ * positions_);
  const Eigen::MatrixXd z = ToPositions(model_y, channels_, positions_);
  Eigen::MatrixXd a(z.rows(), channels_ + 1);
  a << z, Eigen::VectorXd::Ones(z.rows());
  const Eigen::MatrixXd residual = ToPositions(measured_y, channels_, positions_) - z;
  gram_ = forgetting * gram_ + a.transpose() * a;
  target_ = forgetting * target_ + a.transpose() * residual;
  const double lambda = ridge * std::max(gram_.trace() / (channels_ + 1), 1e-300);
  Eigen::MatrixXd regularised = gram_;
  regularised.diagonal().array() += lambda;
  const Eigen::MatrixXd w = regularised.ldlt().solve(target_);  // (channels + 1) x channels
  mixing_ = w.topRows(channels_).transpose();
  offset_ = w.row(channels_).transpose();
}

double LayerCorrection::Mse(const Eigen::MatrixXd& model_y,
                            const Eigen::MatrixXd& measured_y) const {
  return (Apply(model_y) - measured_y).squaredNorm() / static_cast<double>(measured_y.size());
}

int LayerCorrection::state_size() const {
  const int k = channels_;
  return k * k + k + (k + 1) * (k + 1) + (k + 1) * k;
}

std::vector<double> LayerCorrection::Save() const {
  std::vector<double> state;
  state.reserve(static_cast<std::size_t>(state_size()));
  for (const Eigen::MatrixXd* m : {&mixing_, &gram_, &target_}) {
    state.insert(state.end(), m->data(), m->data() + m->size());
  }
  state.insert(state.end(), offset_.data(), offset_.data() + offset_.size());
  return state;
}

absl::Status LayerCorrection::Restore(std::span<const double> state) {
  if (static_cast<int>(state.size()) != state_size()) {
    return absl::InvalidArgumentError(absl::StrCat("error prediction: ", state.size(),
                                                   " values; a layer of ", channels_,
                                                   " channels needs ", state_size()));
  }
  const double* at = state.data();
  for (Eigen::MatrixXd* m : {&mixing_, &gram_, &target_}) {
    std::copy(at, at + m->size(), m->data());
    at += m->size();
  }
  std::copy(at, at + offset_.size(), offset_.data());
  return absl::OkStatus();
}

absl::Status ValidateModelInSituOptions(const ModelInSituOptions& o) {
  if (!(o.learning_rate > 0.0 && o.learning_rate <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be in (0, 1], got ", o.learning_rate));
  }
  if (o.warmup_steps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("prediction_warmup_steps must be >= 0, got ", o.warmup_steps));
  }
  if (!(o.forgetting > 0.0 && o.forgetting <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("forgetting must be in (0, 1], got ", o.forgetting));
  }
  if (!(o.ridge > 0.0 && o.ridge < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("ridge must be in (0, 1), got ", o.ridge));
  }
  return absl::OkStatus();
}

ModelInSituTrainer::ModelInSituTrainer(Model& model, const ChipPlacement& placement,
                                       ChipOracle& oracle, const ModelInSituOptions& options)
    : model_(model),
      placement_(placement),
      oracle_(oracle),
      options_(options),
      adam_(model.parameter_count(), options.learning_rate) {
  PHC_CHECK(ValidateModelInSituOptions(options).ok());
  for (const auto& layer : model.layers()) {
    if (OpticalMap(*layer) == nullptr) continue;
    if (options.method == InSituMethod::kDat) corrections_.push_back(CorrectionFor(*layer));
  }
}

absl::StatusOr<ModelInSituStep> ModelInSituTrainer::Step(const Eigen::MatrixXd& features,
                                                         std::span<const int> labels) {
  if (static_cast<Eigen::Index>(labels.size()) != features.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("labels: ", labels.size(), " for ", features.rows(), " feature rows"));
  }
  if (features.cols() != model_.input_width()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "features have ", features.cols(), " columns; the model reads ", model_.input_width()));
  }
  const bool dat = options_.method == InSituMethod::kDat;
  ModelInSituStep step;
  step.predictions_used = dat && steps_ >= options_.warmup_steps;
  // The fits are kept only if the whole step succeeds.
  std::vector<LayerCorrection> fitted = corrections_;
  Eigen::MatrixXd x = features;
  std::size_t optical = 0;
  for (std::size_t i = 0; i < model_.layers().size(); ++i) {
    ModelLayer& layer = *model_.layers()[i];
    if (OpticalMap(layer) == nullptr) {
      x = layer.Forward(x);
      continue;
    }
    const Eigen::MatrixXd predicted = layer.Forward(x);  // kept for the backward pass
    absl::StatusOr<Eigen::MatrixXd> measured = ChipLayerForward(model_, i, placement_, oracle_, x);
    if (!measured.ok()) return measured.status();
    if (dat) {
      LayerCorrection& correction = fitted[optical];
      step.similarity_before.push_back(correction.Mse(predicted, *measured));
      correction.Fit(predicted, *measured, options_.forgetting, options_.ridge);
      step.similarity_after.push_back(correction.Mse(predicted, *measured));
    }
    ++optical;
    x = *std::move(measured);
  }
  Eigen::MatrixXd delta;
  step.loss = diff::SoftmaxCrossEntropy(x, labels, &delta);

  ZeroGradients(model_);
  for (std::size_t i = model_.layers().size(); i-- > 0;) {
    ModelLayer& layer = *model_.layers()[i];
    if (OpticalMap(layer) != nullptr) {
      --optical;
      if (step.predictions_used) delta = fitted[optical].Backward(delta);
    }
    delta = layer.Backward(delta);
  }
  Eigen::VectorXd parameters = model_.Parameters();
  adam_.Step(parameters, model_.Gradients());
  model_.SetParameters(parameters);
  corrections_ = std::move(fitted);
  ++steps_;
  return step;
}

std::vector<double> ModelInSituTrainer::SaveState() const {
  std::vector<double> state{static_cast<double>(steps_)};
  const std::vector<double> adam = adam_.SaveState();
  state.insert(state.end(), adam.begin(), adam.end());
  for (const LayerCorrection& c : corrections_) {
    const std::vector<double> saved = c.Save();
    state.insert(state.end(), saved.begin(), saved.end());
  }
  return state;
}

absl::Status ModelInSituTrainer::RestoreState(std::span<const double> state) {
  const std::size_t adam_size = 1 + 2 * static_cast<std::size_t>(model_.parameter_count());
  std::size_t expected = 1 + adam_size;
  for (const LayerCorrection& c : corrections_)
    expected += static_cast<std::size_t>(c.state_size());
  if (state.size() != expected || !(state[0] >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "in situ state: ", state.size(), " values; this model and method need ", expected));
  }
  std::vector<LayerCorrection> corrections = corrections_;
  std::size_t at = 1 + adam_size;
  for (LayerCorrection& c : corrections) {
    const auto n = static_cast<std::size_t>(c.state_size());
    if (absl::Status s = c.Restore(state.subspan(at, n)); !s.ok()) return s;
    at += n;
  }
  if (absl::Status s = adam_.RestoreState(state.subspan(1, adam_size)); !s.ok()) return s;
  corrections_ = std::move(corrections);
  steps_ = static_cast<int>(state[0]);
  return absl::OkStatus();
}

double CorrectedLossAndGradients(Model& model, std::span<const LayerCorrection> corrections,
                                 const Eigen::MatrixXd& features, std::span<const int> labels) {
  Eigen::MatrixXd x = features;
  std::size_t optical = 0;
  for (const auto& layer : model.layers()) {
    x = layer->Forward(x);
    if (OpticalMap(*layer) != nullptr) {
      PHC_CHECK(optical < corrections.size());
      x = corrections[optical++].Apply(x);
    }
  }
  PHC_CHECK(optical == corrections.size());
  Eigen::MatrixXd delta;
  const double loss = diff::SoftmaxCrossEntropy(x, labels, &delta);
  ZeroGradients(model);
  for (std::size_t i = model.layers().size(); i-- > 0;) {
    ModelLayer& layer = *model.layers()[i];
    if (OpticalMap(layer) != nullptr) delta = corrections[--optical].Backward(delta);
    delta = layer.Backward(delta);
  }
  return loss;
}

}  // namespace phc::trainers::onn
