#include "daemon/calibration/calibration_fit.h"

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

namespace phc::daemon {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

// Residual sum of squares of the best A + B cos(wP) + C sin(wP) per output.
double SweepResidual(std::span<const double> powers_mw, const Eigen::MatrixXd& readings, double w,
                     double* visibility) {
  const Eigen::Index n = readings.rows();
  Eigen::MatrixXd design(n, 3);
  for (Eigen::Index i = 0; i < n; ++i) {
    design(i, 0) = 1.0;
    design(i, 1) = std::cos(w * powers_mw[i]);
    design(i, 2) = std::sin(w * powers_mw[i]);
  }
  const Eigen::MatrixXd coefficients = design.colPivHouseholderQr().solve(readings);
  if (visibility != nullptr) {
    *visibility = 0.0;
    for (Eigen::Index k = 0; k < readings.cols(); ++k) {
      *visibility = std::max(*visibility, std::hypot(coefficients(1, k), coefficients(2, k)));
    }
  }
  return (design * coefficients - readings).squaredNorm();
}

std::vector<double> ConfigurationPhases(
    const std::vector<double>& bias, const std::vector<double>& efficiency,
    const std::vector<std::vector<photonsim::CrosstalkEntry>>& g,
    const std::vector<double>& powers) {
  std::vector<double> phases(bias.size());
  for (std::size_t i = 0; i < bias.size(); ++i) {
    double felt = powers[i];
    for (const photonsim::CrosstalkEntry& e : g[i]) felt += e.coupling * powers[e.source_heater];
    phases[i] = efficiency[i] * felt;  // bias added by the caller
  }
  return phases;
}

}  // namespace

SweepFit FitSweepFrequency(std::span<const double> powers_mw, const Eigen::MatrixXd& readings,
                           double nominal_efficiency_rad_per_mw) {
  const double low = 0.7 * nominal_efficiency_rad_per_mw;
  const double high = 1.4 * nominal_efficiency_rad_per_mw;
  constexpr int kGrid = 141;
  double best_w = low;
  double best = std::numeric_limits<double>::infinity();
  for (int g = 0; g < kGrid; ++g) {
    const double w = low + (high - low) * g / (kGrid - 1);
    const double r = SweepResidual(powers_mw, readings, w, nullptr);
    if (r < best) {
      best = r;
      best_w = w;
    }
  }
  // Golden section within one grid step either side.
  const double step = (high - low) / (kGrid - 1);
  double a = best_w - step, b = best_w + step;
  const double phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double x1 = b - phi * (b - a), x2 = a + phi * (b - a);
  double f1 = SweepResidual(powers_mw, readings, x1, nullptr);
  double f2 = SweepResidual(powers_mw, readings, x2, nullptr);
  for (int i = 0; i < 40; ++i) {
    if (f1 < f2) {
      b = x2, x2 = x1, f2 = f1, x1 = b - phi * (b - a);
      f1 = SweepResidual(powers_mw, readings, x1, nullptr);
    } else {
      a = x1, x1 = x2, f1 = f2, x2 = a + phi * (b - a);
      f2 = SweepResidual(powers_mw, readings, x2, nullptr);
    }
  }
  SweepFit fit;
  fit.efficiency_rad_per_mw = (a + b) / 2;
  const double rss = SweepResidual(powers_mw, readings, fit.efficiency_rad_per_mw, &fit.visibility);
  fit.rms_residual = std::sqrt(rss / static_cast<double>(readings.size()));
  return fit;
}

Eigen::MatrixXd ModelPowers(photonsim::LinearCircuit& model, const photonsim::MatrixXc& patterns,
                            std::span<const double> phases_rad) {
  model.SetPhases(phases_rad);
  photonsim::MatrixXc fields = patterns;
  model.Propagate(fields);
  return fields.cwiseAbs2();
}

double BiasFitRms(photonsim::LinearCircuit& model, const BiasFitData& data,
                  const std::vector<double>& bias_rad,
                  const std::vector<double>& efficiency_rad_per_mw,
                  const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk) {
  double rss = 0.0;
  double count = 0.0;
  for (std::size_t c = 0; c < data.measured.size(); ++c) {
    std::vector<double> phases =
        ConfigurationPhases(bias_rad, efficiency_rad_per_mw, crosstalk, data.powers_mw[c]);
    for (std::size_t i = 0; i < phases.size(); ++i) phases[i] += bias_rad[i];
    rss += (ModelPowers(model, data.patterns, phases) - data.measured[c]).squaredNorm();
    count += static_cast<double>(data.measured[c].size());
  }
  return std::sqrt(rss / count);
}

BiasFitResult FitPhaseBiases(photonsim::LinearCircuit& model, const BiasFitData& data,
                             const std::vector<double>& efficiency_rad_per_mw,
                             const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk,
                             const BiasFitOptions& options) {
  const int phases = model.phase_count();
  const std::size_t configs = data.measured.size();
  // Heater-driven part of every configuration's phases (bias excluded).
  std::vector<std::vector<double>> driven(configs);
  for (std::size_t c = 0; c < configs; ++c) {
    driven[c] = ConfigurationPhases(std::vector<double>(phases, 0.0), efficiency_rad_per_mw,
                                    crosstalk, data.powers_mw[c]);
  }
  std::vector<double> work(phases);
  const double shifts[3] = {0.0, kTwoPi / 3, 2 * kTwoPi / 3};
  std::vector<Eigen::MatrixXd> at_shift[3];
  for (auto& v : at_shift) v.resize(configs);

  // One exact coordinate sweep over every phase.
  auto sweep = [&](std::vector<double>& bias) {
    for (int j = 0; j < phases; ++j) {
      for (int s = 0; s < 3; ++s) {
        for (std::size_t c = 0; c < configs; ++c) {
          for (int i = 0; i < phases; ++i) work[i] = bias[i] + driven[c][i];
          work[j] += shifts[s];
          at_shift[s][c] = ModelPowers(model, data.patterns, work);
        }
      }
      // Each entry is a + b cos x + d sin x in the shift x; the loss
      // sum (m - a - b cos x - d sin x)^2 is expanded into five sums.
      double s_mb = 0, s_md = 0, s_bb = 0, s_dd = 0, s_bd = 0;
      for (std::size_t c = 0; c < configs; ++c) {
        const Eigen::MatrixXd a = (at_shift[0][c] + at_shift[1][c] + at_shift[2][c]) / 3.0;
        const Eigen::MatrixXd b =
            (2.0 / 3.0) * (at_shift[0][c] + std::cos(shifts[1]) * at_shift[1][c] +
                           std::cos(shifts[2]) * at_shift[2][c]);
        const Eigen::MatrixXd d = (2.0 / 3.0) * (std::sin(shifts[1]) * at_shift[1][c] +
                                                 std::sin(shifts[2]) * at_shift[2][c]);
        const Eigen::MatrixXd m = data.measured[c] - a;
        s_mb += (m.array() * b.array()).sum();
        s_md += (m.array() * d.array()).sum();
        s_bb += b.squaredNorm();
        s_dd += d.squaredNorm();
        s_bd += (b.array() * d.array()).sum();
      }
      double best_x = 0.0;
      double best = std::numeric_limits<double>::infinity();
      for (int g = 0; g < 720; ++g) {
        const double x = kTwoPi * g / 720.0;
        const double cx = std::cos(x), sx = std::sin(x);
        const double loss =
            -2 * cx * s_mb - 2 * sx * s_md + cx * cx * s_bb + sx * sx * s_dd + 2 * sx * cx * s_bd;
        if (loss < best) {
          best = loss;
          best_x = x;
        }
      }
      // Newton steps on the trigonometric loss from the best grid point.
      for (int it = 0; it < 4; ++it) {
        const double cx = std::cos(best_x), sx = std::sin(best_x);
        const double d1 = 2 * sx * s_mb - 2 * cx * s_md + 2 * sx * cx * (s_dd - s_bb) +
                          2 * (cx * cx - sx * sx) * s_bd;
        const double d2 = 2 * cx * s_mb + 2 * sx * s_md + 2 * (cx * cx - sx * sx) * (s_dd - s_bb) -
                          8 * sx * cx * s_bd;
        if (d2 <= 0) break;
        best_x -= d1 / d2;
      }
      bias[j] = std::fmod(bias[j] + best_x + 2 * kTwoPi, kTwoPi);
    }
  };

  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(0.0, kTwoPi);
  const int total = options.restarts * 3 + options.sweeps;
  int done = 0;
  BiasFitResult best;
  best.rms_residual = std::numeric_limits<double>::infinity();
  for (int r = 0; r < std::max(1, options.restarts); ++r) {
    std::vector<double> bias(phases);
    for (double& b : bias) b = uniform(rng);
    for (int s = 0; s < 3; ++s) {
      sweep(bias);
      ++done;
      if (options.on_sweep) options.on_sweep(done, total, best.rms_residual);
    }
    const double rms = BiasFitRms(model, data, bias, efficiency_rad_per_mw, crosstalk);
    if (rms < best.rms_residual) best = {bias, rms};
  }
  for (int s = 0; s < options.sweeps; ++s) {
    sweep(best.bias_rad);
    ++done;
    best.rms_residual = BiasFitRms(model, data, best.bias_rad, efficiency_rad_per_mw, crosstalk);
    if (options.on_sweep) options.on_sweep(done, total, best.rms_residual);
  }
  return best;
}

}  // namespace phc::daemon
