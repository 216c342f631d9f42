#include "core_fit.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "phc/trainers/onn/svd_core.h"
#include "photonsim/phase.h"

namespace phc::trainers::onn::core_fit {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

// Sums over a core's readings of (alpha + beta cos t + gamma sin t)^2, kept
// as the coefficients of a second-order trigonometric polynomial in t.
struct TrigLoss {
  double aa = 0, bb = 0, cc = 0, ab = 0, ac = 0, bc = 0;
  double operator()(double t) const {
    const double co = std::cos(t), si = std::sin(t);
    return aa + bb * co * co + cc * si * si + 2.0 * (ab * co + ac * si + bc * co * si);
  }
  // The t in [0, 2 pi) that minimises it: a grid, then golden section.
  double Minimiser() const {
    constexpr int kGrid = 96;
    int best = 0;
    double best_value = (*this)(0.0);
    for (int g = 1; g < kGrid; ++g) {
      const double value = (*this)(kTwoPi * g / kGrid);
      if (value < best_value) best_value = value, best = g;
    }
    double lo = kTwoPi * (best - 1) / kGrid, hi = kTwoPi * (best + 1) / kGrid;
    const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
    for (int iteration = 0; iteration < 40; ++iteration) {
      const double m1 = hi - ratio * (hi - lo), m2 = lo + ratio * (hi - lo);
      if ((*this)(m1) < (*this)(m2)) {
        hi = m2;
      } else {
        lo = m1;
      }
    }
    return photonsim::WrapPhase((lo + hi) / 2.0);
  }
};

}  // namespace

std::vector<CoreTarget> CoreTargets(Model& model, const ChipPlacement& placement,
                                    const photonsim::ChipLayout& layout) {
  std::vector<CoreTarget> cores;
  for (const auto& layer : model.layers()) {
    const OpticalLinear* optical = OpticalMap(*layer);
    if (optical == nullptr) continue;
    const int k = optical->core_size();
    SvdCore ideal(k);
    const std::span<const double> parameters = optical->parameter_values();
    for (const CoreBlock& block : optical->blocks()) {
      const int index = placement.circuits.at(cores.size());
      CoreTarget core;
      const photonsim::CircuitLayout& circuit = layout.circuits[index];
      core.first_phase = circuit.first_phase;
      core.first_input = circuit.first_input;
      core.first_output = circuit.first_output;
      core.rows = std::min(k, optical->out_width() - block.row * k);
      core.cols = std::min(k, optical->in_width() - block.col * k);
      core.target = ideal.Build(parameters.subspan(block.first_parameter, ideal.phase_count()))
                        .topLeftCorner(core.rows, core.cols);
      core.nominal_gain = 1.0 / placement.readout_scale_mw[index];
      cores.push_back(std::move(core));
    }
  }
  return cores;
}

absl::StatusOr<Measurement> MeasureCores(ChipOracle& oracle, const std::vector<CoreTarget>& cores,
                                         int k, std::int64_t& queries) {
  const photonsim::ChipLayout& layout = oracle.layout();
  std::vector<double> amplitudes(layout.input_count, 0.0);
  absl::StatusOr<std::vector<double>> dark = oracle.Query(amplitudes);
  ++queries;
  if (!dark.ok()) return dark.status();
  Measurement measurement;
  measurement.dark_mw = *dark;
  for (const CoreTarget& core : cores) {
    measurement.matrices.push_back(Eigen::MatrixXd::Zero(core.rows, core.cols));
  }
  for (int j = 0; j < k; ++j) {
    std::ranges::fill(amplitudes, 0.0);
    for (const CoreTarget& core : cores) {
      if (j < core.cols) amplitudes[core.first_input + j] = 1.0;
    }
    absl::StatusOr<std::vector<double>> lit = oracle.Query(amplitudes);
    ++queries;
    if (!lit.ok()) return lit.status();
    for (std::size_t c = 0; c < cores.size(); ++c) {
      const CoreTarget& core = cores[c];
      if (j >= core.cols) continue;
      for (int i = 0; i < core.rows; ++i) {
        const int output = core.first_output + i;
        measurement.matrices[c](i, j) = (*lit)[output] - (*dark)[output];
      }
    }
  }
  return measurement;
}

double Residual(const Eigen::MatrixXd& measured, const Eigen::VectorXd& gains,
                const Eigen::MatrixXd& target) {
  const double norm = target.norm();
  const double error = (gains.asDiagonal() * measured - target).norm();
  return norm > 0.0 ? error / norm : error;
}

double Objective(const Eigen::MatrixXd& measured, const Eigen::VectorXd& gains,
                 const CoreTarget& core) {
  double pull = 0.0;
  for (int i = 0; i < core.rows; ++i) {
    const double deviation = gains(i) / core.nominal_gain - 1.0;
    pull += kGainPull * core.target.row(i).squaredNorm() * deviation * deviation;
  }
  return (gains.asDiagonal() * measured - core.target).squaredNorm() + pull;
}

double Residuals(const Measurement& measured, const std::vector<CoreTarget>& cores,
                 const std::vector<Eigen::VectorXd>& gains, std::vector<double>& residuals) {
  residuals.clear();
  double mean = 0.0;
  for (std::size_t c = 0; c < cores.size(); ++c) {
    residuals.push_back(Residual(measured.matrices[c], gains[c], cores[c].target));
    mean += residuals.back() / static_cast<double>(cores.size());
  }
  return mean;
}

Eigen::VectorXd LevenbergMarquardtStep(const Eigen::MatrixXd& measured,
                                       const Eigen::MatrixXd& d_measured_d_phase,
                                       const Eigen::VectorXd& gains, const CoreTarget& core,
                                       double damping) {
  const int readings = core.rows * core.cols;
  const int phases = static_cast<int>(d_measured_d_phase.cols());
  Eigen::MatrixXd jacobian = Eigen::MatrixXd::Zero(readings + core.rows, phases + core.rows);
  Eigen::VectorXd error(readings + core.rows);
  for (int i = 0; i < core.rows; ++i) {
    for (int j = 0; j < core.cols; ++j) {
      const int row = i * core.cols + j;
      jacobian.row(row).head(phases) = gains(i) * d_measured_d_phase.row(row);
      jacobian(row, phases + i) = measured(i, j);
      error(row) = gains(i) * measured(i, j) - core.target(i, j);
    }
    const double weight = std::sqrt(kGainPull) * core.target.row(i).norm();
    jacobian(readings + i, phases + i) = weight / core.nominal_gain;
    error(readings + i) = weight * (gains(i) / core.nominal_gain - 1.0);
  }
  Eigen::MatrixXd normal = jacobian * jacobian.transpose();
  normal.diagonal().array() += damping * std::max(normal.diagonal().mean(), 1e-300);
  return -jacobian.transpose() * normal.ldlt().solve(error);
}

double BestSinglePhase(const std::array<const Eigen::MatrixXd*, 3>& readings, double base,
                       const Eigen::VectorXd& gains, const CoreTarget& core) {
  TrigLoss loss;
  for (int i = 0; i < core.rows; ++i) {
    const double g = gains(i);
    for (int j = 0; j < core.cols; ++j) {
      double a = 0.0, b = 0.0, s = 0.0;
      for (int m = 0; m < 3; ++m) {
        const double r = (*readings[m])(i, j), t = base + kTwoPi * m / 3.0;
        a += r / 3.0;
        b += 2.0 / 3.0 * r * std::cos(t);
        s += 2.0 / 3.0 * r * std::sin(t);
      }
      const double alpha = g * a - core.target(i, j), beta = g * b, gamma = g * s;
      loss.aa += alpha * alpha;
      loss.bb += beta * beta;
      loss.cc += gamma * gamma;
      loss.ab += alpha * beta;
      loss.ac += alpha * gamma;
      loss.bc += beta * gamma;
    }
  }
  return loss.Minimiser();
}

}  // namespace phc::trainers::onn::core_fit
