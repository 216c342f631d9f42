#include "phc/trainers/onn/gift.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "phc/trainers/diff/layers.h"
#include "phc/trainers/diff/network.h"

namespace phc::trainers::onn {
namespace {

constexpr int kMaxDraws = 64;

absl::Status ValidateEstimation(const Model& model, const Eigen::MatrixXd& probe,
                                const NoiseEstimationOptions& o) {
  if (o.repeats < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("repeats = ", o.repeats, " must be >= 2 (the readout noise is their spread)"));
  }
  if (o.draws < 1) return absl::InvalidArgumentError("draws must be >= 1");
  if (!(o.probe_std_rad > 0.0 && o.probe_std_rad < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe_std_rad = ", o.probe_std_rad, " must be in (0, 1) rad"));
  }
  if (o.refinements < 0) return absl::InvalidArgumentError("refinements must be >= 0");
  if (probe.rows() < 1 || probe.cols() != model.input_width()) {
    return absl::InvalidArgumentError(absl::StrCat("probe: ", probe.rows(), " x ", probe.cols(),
                                                   "; the model reads ", model.input_width(),
                                                   " columns, at least one row"));
  }
  for (const auto& layer : model.layers()) {
    if (OpticalMap(*layer) != nullptr) return absl::OkStatus();
  }
  return absl::InvalidArgumentError("the model has no optical layer to estimate noise in");
}

// Mean square over entries of the layer's output moved by phase noise of
// std `sigma`, over `draws` draws.
double PredictedDeviation(ModelLayer& layer, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y0,
                          double sigma, int draws, std::mt19937_64& rng) {
  layer.SetPhaseNoise(sigma, &rng);
  double sum = 0.0;
  for (int d = 0; d < draws; ++d) sum += (layer.Forward(x) - y0).squaredNorm();
  layer.SetPhaseNoise(0.0, nullptr);
  return sum / (static_cast<double>(draws) * static_cast<double>(y0.size()));
}

// The phase noise whose predicted deviation equals `systematic`: the
// deviation grows as sigma^2 for small sigma, so sigma is rescaled by the
// square root of the ratio until it settles.
double MatchPhaseNoise(ModelLayer& layer, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y0,
                       double systematic, const NoiseEstimationOptions& o, std::mt19937_64& rng) {
  if (systematic <= 0.0) return 0.0;
  double sigma = o.probe_std_rad;
  for (int i = 0; i <= o.refinements; ++i) {
    const double predicted = PredictedDeviation(layer, x, y0, sigma, o.draws, rng);
    if (predicted <= 0.0) return 0.0;  // the layer does not depend on its phases
    sigma *= std::sqrt(systematic / predicted);
  }
  return sigma;
}

}  // namespace

absl::StatusOr<NoiseStructure> EstimateNoiseStructure(Model& model, const ChipPlacement& placement,
                                                      ChipOracle& oracle,
                                                      const Eigen::MatrixXd& probe,
                                                      const NoiseEstimationOptions& options) {
  if (absl::Status s = ValidateEstimation(model, probe, options); !s.ok()) return s;
  NoiseStructure structure;
  const std::int64_t queries_before = oracle.cost().queries;
  std::mt19937_64 rng(options.seed);
  Eigen::MatrixXd x = probe;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    ModelLayer& layer = *model.layers()[i];
    if (OpticalMap(layer) == nullptr) {
      x = layer.Forward(x);
      continue;
    }
    layer.SetPhaseNoise(0.0, nullptr);
    const Eigen::MatrixXd y0 = layer.Forward(x);
    Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(y0.rows(), y0.cols());
    Eigen::MatrixXd sum_squares = sum;
    for (int r = 0; r < options.repeats; ++r) {
      absl::StatusOr<Eigen::MatrixXd> y = ChipLayerForward(model, i, placement, oracle, x);
      if (!y.ok()) return y.status();
      sum += *y;
      sum_squares += y->cwiseAbs2();
    }
    const double n = static_cast<double>(y0.size());
    const double repeats = options.repeats;
    const Eigen::MatrixXd mean = sum / repeats;
    const Eigen::MatrixXd variance =
        ((sum_squares - repeats * mean.cwiseAbs2()) / (repeats - 1.0)).cwiseMax(0.0);
    LayerNoise noise{.layer = i,
                     .deviation_ms = (mean - y0).squaredNorm() / n,
                     .readout_variance = variance.sum() / n};
    // The mean of the repeats still carries readout noise of variance
    // readout_variance / repeats.
    const double systematic = noise.deviation_ms - noise.readout_variance / repeats;
    noise.phase_std_rad = MatchPhaseNoise(layer, x, y0, systematic, options, rng);
    structure.layers.push_back(noise);
    x = mean;  // the next layer reads what the chip produced
  }
  structure.queries = oracle.cost().queries - queries_before;
  return structure;
}

absl::Status ValidateGiftOptions(const GiftOptions& o) {
  if (o.draws < 2 || o.draws > kMaxDraws) {
    return absl::InvalidArgumentError(
        absl::StrCat("draws = ", o.draws, " must be in [2, ", kMaxDraws,
                     "] (the Monte Carlo error of the gradient needs two)"));
  }
  if (!(o.learning_rate > 0.0 && o.learning_rate <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate = ", o.learning_rate, " must be in (0, 1]"));
  }
  if (!(o.armijo >= 0.0 && o.armijo < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("armijo = ", o.armijo, " must be in [0, 1)"));
  }
  if (o.backtracks < 0 || o.backtracks > 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("backtracks = ", o.backtracks, " must be in [0, 20]"));
  }
  if (!(o.signal_ratio >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("signal_ratio = ", o.signal_ratio, " must be >= 0"));
  }
  return absl::OkStatus();
}

GiftTrainer::GiftTrainer(Model& model, NoiseStructure noise, const GiftOptions& options)
    : model_(model),
      noise_(std::move(noise)),
      options_(options),
      draws_(options.draws),
      adam_(model.parameter_count(), 1.0) {
  PHC_CHECK(ValidateGiftOptions(options).ok());
}

double GiftTrainer::ExpectedLoss(const Eigen::MatrixXd& features, std::span<const int> labels,
                                 std::uint64_t draw_seed, int draws, Eigen::MatrixXd* gradients) {
  std::mt19937_64 noise_rng(draw_seed);
  for (const LayerNoise& layer : noise_.layers) {
    model_.layers()[layer.layer]->SetPhaseNoise(layer.phase_std_rad, &noise_rng);
  }
  if (gradients != nullptr) gradients->resize(model_.parameter_count(), draws);
  double total = 0.0;
  for (int d = 0; d < draws; ++d) {
    if (gradients != nullptr) {
      total += model_.LossAndGradients(features, labels);
      gradients->col(d) = model_.Gradients();
    } else {
      total += diff::SoftmaxCrossEntropy(model_.Forward(features), labels, nullptr);
    }
  }
  model_.SetPhaseNoise(0.0, nullptr);
  return total / draws;
}

GiftStep GiftTrainer::Step(const Eigen::MatrixXd& features, std::span<const int> labels) {
  GiftStep step;
  step.draws = draws_;
  // The draws are a function of the seed and the step, so a restored
  // trainer repeats them.
  const std::uint64_t draw_seed = options_.seed * 1000003ULL + static_cast<std::uint64_t>(calls_++);
  Eigen::MatrixXd per_draw;
  step.expected_loss = ExpectedLoss(features, labels, draw_seed, draws_, &per_draw);
  step.loss_after = step.expected_loss;
  const Eigen::VectorXd g = per_draw.rowwise().mean();
  // Squared Monte Carlo error of the mean gradient: trace of its covariance.
  const double error = (per_draw.colwise() - g).squaredNorm() / ((draws_ - 1.0) * draws_);
  step.signal_to_noise =
      error > 0.0 ? g.squaredNorm() / error : std::numeric_limits<double>::infinity();
  if (step.signal_to_noise < options_.signal_ratio) {
    step.refused_because = absl::StrCat("the gradient (|g|^2 = ", g.squaredNorm(),
                                        ") is within its Monte Carlo error (", error, ")");
    draws_ = std::min(kMaxDraws, 2 * draws_);
    return step;
  }
  // Adam's step of unit length from zero is minus its direction; the
  // moments it moved are kept only if the step is applied.
  diff::Adam trial = adam_;
  Eigen::VectorXd direction = Eigen::VectorXd::Zero(g.size());
  trial.Step(direction, g);
  direction = -direction;
  const double slope = g.dot(direction);
  if (!(slope > 0.0)) {
    step.refused_because = "Adam's direction is not a descent direction of the expected loss";
    return step;
  }
  const Eigen::VectorXd start = model_.Parameters();
  double scale = 1.0;
  for (int b = 0; b <= options_.backtracks; ++b, scale *= 0.5) {
    const double length = options_.learning_rate * scale;
    model_.SetParameters(start - length * direction);
    const double after = ExpectedLoss(features, labels, draw_seed, draws_, nullptr);
    if (after <= step.expected_loss - options_.armijo * length * slope) {
      step.loss_after = after;
      step.step_scale = scale;
      step.applied = true;
      adam_ = trial;
      return step;
    }
  }
  model_.SetParameters(start);
  step.refused_because = absl::StrCat("no step down to 2^-", options_.backtracks,
                                      " of the trial decreased the expected loss enough");
  return step;
}

std::vector<double> GiftTrainer::SaveState() const {
  // Adam's step count, draws, steps tried, then Adam's moments.
  const std::vector<double> adam = adam_.SaveState();
  std::vector<double> state{adam[0], static_cast<double>(draws_), static_cast<double>(calls_)};
  state.insert(state.end(), adam.begin() + 1, adam.end());
  return state;
}

absl::Status GiftTrainer::RestoreState(std::span<const double> state) {
  const auto n = static_cast<std::size_t>(model_.parameter_count());
  if (state.size() != 3 + 2 * n) {
    return absl::InvalidArgumentError(
        absl::StrCat("GIFT state: ", state.size(), " values; this model needs ", 3 + 2 * n));
  }
  const int draws = static_cast<int>(state[1]);
  if (state[0] < 0.0 || state[2] < state[0] || draws < 2 || draws > kMaxDraws) {
    return absl::InvalidArgumentError("GIFT state: step counts or draws out of range");
  }
  std::vector<double> adam{state[0]};
  adam.insert(adam.end(), state.begin() + 3, state.end());
  if (absl::Status s = adam_.RestoreState(adam); !s.ok()) return s;
  draws_ = draws;
  calls_ = static_cast<std::int64_t>(state[2]);
  return absl::OkStatus();
}

}  // namespace phc::trainers::onn
