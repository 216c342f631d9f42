#include "daemon/calibration/calibration_fit.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "photonsim/chip_layout.h"
#include "photonsim/mzi_mesh.h"
#include "photonsim/phase.h"

namespace phc::daemon {
namespace {

using photonsim::kTwoPi;

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

std::vector<std::vector<int>> ReadingDependencies(const photonsim::CircuitLayout& circuit,
                                                  const photonsim::MatrixXc& patterns) {
  // The circuit as a list of elements: modes they act on, phases they hold.
  struct Element {
    int a, b;  // b < 0: acts on mode a alone
    std::vector<int> phases;
  };
  std::vector<Element> elements;
  auto add_mesh = [&](const photonsim::MziMesh& mesh, int phase_offset) {
    for (int m = 0; m < mesh.mzi_count(); ++m) {
      const photonsim::MziPlacement& p = mesh.placements()[m];
      elements.push_back(
          {p.top_mode, p.bottom_mode, {phase_offset + 2 * m, phase_offset + 2 * m + 1}});
    }
  };
  const int n = circuit.size;
  if (circuit.kind == photonsim::CircuitKind::kSvd) {
    const photonsim::MziMesh mesh = photonsim::MziMesh::Clements(n);
    add_mesh(mesh, 0);
    for (int k = 0; k < n; ++k) elements.push_back({k, -1, {mesh.phase_count() + k}});
    add_mesh(mesh, mesh.phase_count() + n);
  } else {
    add_mesh(photonsim::MeshForCircuit(circuit.spec.mesh()), 0);
  }
  auto touches = [](const Element& e, const std::vector<bool>& lit) {
    return lit[e.a] || (e.b >= 0 && lit[e.b]);
  };
  std::vector<std::vector<int>> dependencies;
  for (Eigen::Index q = 0; q < patterns.rows(); ++q) {
    std::vector<bool> lit(n, false);
    for (int i = 0; i < n; ++i) lit[i] = std::abs(patterns(q, i)) > 0.0;
    std::vector<bool> forward(elements.size(), false);
    for (std::size_t e = 0; e < elements.size(); ++e) {
      if (!touches(elements[e], lit)) continue;
      forward[e] = true;
      lit[elements[e].a] = true;
      if (elements[e].b >= 0) lit[elements[e].b] = true;
    }
    for (int k = 0; k < n; ++k) {
      std::vector<bool> reach(n, false);
      reach[k] = true;
      std::vector<int> phases;
      for (std::size_t e = elements.size(); e-- > 0;) {
        if (!touches(elements[e], reach)) continue;
        reach[elements[e].a] = true;
        if (elements[e].b >= 0) reach[elements[e].b] = true;
        if (forward[e])
          phases.insert(phases.end(), elements[e].phases.begin(), elements[e].phases.end());
      }
      std::sort(phases.begin(), phases.end());
      dependencies.push_back(std::move(phases));
    }
  }
  return dependencies;
}

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

double RefineBiasesAndEfficiencies(
    photonsim::LinearCircuit& model, const BiasFitData& data, std::vector<double>& bias_rad,
    std::vector<double>& efficiency_rad_per_mw,
    const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk, int iterations,
    const RefineScope& scope) {
  const int phases = model.phase_count();
  const std::size_t configs = data.measured.size();
  const Eigen::Index per_config = data.measured.empty() ? 0 : data.measured[0].size();
  const Eigen::Index rows = per_config * static_cast<Eigen::Index>(configs);
  std::vector<int> free = scope.free_phases;
  if (free.empty()) {
    for (int j = 0; j < phases; ++j) free.push_back(j);
  }
  const int f = static_cast<int>(free.size());
  const int parameters = scope.fit_efficiency ? 2 * f : f;
  Eigen::VectorXd weight = Eigen::VectorXd::Ones(per_config);
  if (scope.mask != nullptr) {
    weight = Eigen::Map<const Eigen::VectorXd>(scope.mask->data(), per_config);
  }
  const std::vector<double> zero(phases, 0.0), ones(phases, 1.0);
  // felt[c][j]: P_cj + sum_l G_jl P_cl, so phase = bias + eta * felt.
  std::vector<std::vector<double>> felt(configs);
  for (std::size_t c = 0; c < configs; ++c) {
    felt[c] = ConfigurationPhases(zero, ones, crosstalk, data.powers_mw[c]);
  }
  auto residuals = [&](const std::vector<double>& bias, const std::vector<double>& eta,
                       Eigen::VectorXd& r, Eigen::MatrixXd* jacobian) {
    r.resize(rows);
    if (jacobian != nullptr) jacobian->setZero(rows, parameters);
    std::vector<double> phase(phases);
    constexpr double kStep = 1e-6;
    for (std::size_t c = 0; c < configs; ++c) {
      for (int j = 0; j < phases; ++j) phase[j] = bias[j] + eta[j] * felt[c][j];
      const Eigen::MatrixXd base = ModelPowers(model, data.patterns, phase);
      const Eigen::Index offset = static_cast<Eigen::Index>(c) * per_config;
      const Eigen::MatrixXd difference = base - data.measured[c];
      r.segment(offset, per_config) =
          Eigen::Map<const Eigen::VectorXd>(difference.data(), per_config).cwiseProduct(weight);
      if (jacobian == nullptr) continue;
      for (int p = 0; p < f; ++p) {
        const int j = free[p];
        phase[j] += kStep;
        const Eigen::MatrixXd d = (ModelPowers(model, data.patterns, phase) - base) / kStep;
        phase[j] -= kStep;
        const Eigen::VectorXd column =
            Eigen::Map<const Eigen::VectorXd>(d.data(), per_config).cwiseProduct(weight);
        jacobian->block(offset, p, per_config, 1) = column;
        if (scope.fit_efficiency) {
          jacobian->block(offset, f + p, per_config, 1) = column * felt[c][j];
        }
      }
    }
  };
  // Efficiencies stay within a factor of two of where they started.
  const std::vector<double> eta_start = efficiency_rad_per_mw;
  Eigen::VectorXd r;
  Eigen::MatrixXd jacobian;
  residuals(bias_rad, efficiency_rad_per_mw, r, &jacobian);
  double cost = r.squaredNorm();
  double damping = 1e-3;
  for (int it = 0; it < iterations; ++it) {
    // J^T J through a symmetric rank update: half the products of a dense
    // J^T * J (the normal equations dominate the fit's time on 16x16).
    Eigen::MatrixXd jtj = Eigen::MatrixXd::Zero(jacobian.cols(), jacobian.cols());
    jtj.selfadjointView<Eigen::Lower>().rankUpdate(jacobian.transpose());
    jtj.triangularView<Eigen::StrictlyUpper>() = jtj.transpose();
    const Eigen::VectorXd jtr = jacobian.transpose() * r;
    bool improved = false;
    for (int attempt = 0; attempt < 8 && !improved; ++attempt) {
      Eigen::MatrixXd a = jtj;
      a.diagonal() += damping * (jtj.diagonal().array() + 1e-12).matrix();
      const Eigen::VectorXd step = -a.ldlt().solve(jtr);
      std::vector<double> bias = bias_rad, eta = efficiency_rad_per_mw;
      for (int p = 0; p < f; ++p) {
        const int j = free[p];
        bias[j] += step(p);
        if (scope.fit_efficiency) {
          eta[j] = std::clamp(eta[j] + step(f + p), 0.5 * eta_start[j], 2.0 * eta_start[j]);
        }
      }
      Eigen::VectorXd trial;
      residuals(bias, eta, trial, nullptr);
      if (trial.squaredNorm() < cost) {
        bias_rad = std::move(bias);
        efficiency_rad_per_mw = std::move(eta);
        damping = std::max(1e-9, damping / 3);
        improved = true;
      } else {
        damping *= 10;
      }
    }
    if (!improved) break;
    residuals(bias_rad, efficiency_rad_per_mw, r, &jacobian);
    const double new_cost = r.squaredNorm();
    const bool converged = cost - new_cost < 1e-10 * cost;
    cost = new_cost;
    if (converged) break;
  }
  for (double& b : bias_rad) b = photonsim::WrapPhase(b);
  const double counted = weight.sum() * static_cast<double>(configs);
  return std::sqrt(cost / std::max(1.0, counted));
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
  // One model per configuration: between visits only the MZIs whose phases
  // changed are rebuilt.
  std::vector<std::unique_ptr<photonsim::LinearCircuit>> models;
  for (std::size_t c = 0; c < configs; ++c) {
    models.push_back(
        options.circuit != nullptr ? photonsim::MakeIdealLinearCircuit(*options.circuit) : nullptr);
  }
  auto model_for = [&](std::size_t c) -> photonsim::LinearCircuit& {
    return models[c] ? *models[c] : model;
  };
  photonsim::MatrixXc fields_at_0, fields_at_pi;

  const Eigen::Index pattern_count = data.patterns.rows();
  const Eigen::Index outputs = data.patterns.cols();
  Eigen::MatrixXd mask = Eigen::MatrixXd::Ones(pattern_count, outputs);
  auto masked_rms = [&](const std::vector<double>& bias) {
    double rss = 0.0;
    for (std::size_t c = 0; c < configs; ++c) {
      for (int i = 0; i < phases; ++i) work[i] = bias[i] + driven[c][i];
      rss += ((ModelPowers(model_for(c), data.patterns, work) - data.measured[c]).array() *
              mask.array())
                 .square()
                 .sum();
    }
    return std::sqrt(rss / std::max(1.0, mask.sum() * static_cast<double>(configs)));
  };
  // One exact coordinate sweep over the given phases, on the masked readings.
  // The output fields are affine in exp(i x) for a shift x of any one phase,
  // y(x) = y0 + exp(i x) y1: two propagations (x = 0, pi) give y0 and y1, and
  // every reading is a + b cos x + d sin x with a = |y0|^2 + |y1|^2,
  // b = 2 Re(conj(y0) y1), d = -2 Im(conj(y0) y1).
  auto sweep = [&](std::vector<double>& bias, const std::vector<int>& coordinates) {
    for (int j : coordinates) {
      double s_mb = 0, s_md = 0, s_bb = 0, s_dd = 0, s_bd = 0;
      for (std::size_t c = 0; c < configs; ++c) {
        photonsim::LinearCircuit& m_c = model_for(c);
        for (int i = 0; i < phases; ++i) work[i] = bias[i] + driven[c][i];
        m_c.SetPhases(work);
        fields_at_0 = data.patterns;
        m_c.Propagate(fields_at_0);
        work[j] += std::numbers::pi;
        m_c.SetPhases(work);
        fields_at_pi = data.patterns;
        m_c.Propagate(fields_at_pi);
        const photonsim::MatrixXc y0 = (fields_at_0 + fields_at_pi) / 2.0;
        const photonsim::MatrixXc y1 = (fields_at_0 - fields_at_pi) / 2.0;
        const photonsim::MatrixXc cross = y0.conjugate().cwiseProduct(y1);
        const Eigen::ArrayXXd a = y0.cwiseAbs2().array() + y1.cwiseAbs2().array();
        const Eigen::ArrayXXd bm = 2.0 * cross.real().array() * mask.array();
        const Eigen::ArrayXXd dm = -2.0 * cross.imag().array() * mask.array();
        const Eigen::ArrayXXd m = (data.measured[c].array() - a) * mask.array();
        s_mb += (m * bm).sum();
        s_md += (m * dm).sum();
        s_bb += bm.square().sum();
        s_dd += dm.square().sum();
        s_bd += (bm * dm).sum();
      }
      const auto loss_at = [&](double x) {
        const double cx = std::cos(x), sx = std::sin(x);
        return -2 * cx * s_mb - 2 * sx * s_md + cx * cx * s_bb + sx * sx * s_dd +
               2 * sx * cx * s_bd;
      };
      double best_x = 0.0;
      double best = std::numeric_limits<double>::infinity();
      for (int g = 0; g < 720; ++g) {
        const double x = kTwoPi * g / 720.0;
        const double loss = loss_at(x);
        if (loss < best) {
          best = loss;
          best_x = x;
        }
      }
      // Newton steps on the trigonometric loss from the best grid point; a
      // step that does not lower the loss is discarded.
      for (int it = 0; it < 4; ++it) {
        const double cx = std::cos(best_x), sx = std::sin(best_x);
        const double d1 = 2 * sx * s_mb - 2 * cx * s_md + 2 * sx * cx * (s_dd - s_bb) +
                          2 * (cx * cx - sx * sx) * s_bd;
        const double d2 = 2 * cx * s_mb + 2 * sx * s_md + 2 * (cx * cx - sx * sx) * (s_dd - s_bb) -
                          8 * sx * cx * s_bd;
        if (d2 <= 0) break;
        const double next_x = best_x - d1 / d2;
        const double next = loss_at(next_x);
        if (!(next < best)) break;
        best = next;
        best_x = next_x;
      }
      bias[j] = std::fmod(bias[j] + best_x + 2 * kTwoPi, kTwoPi);
    }
  };

  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(0.0, kTwoPi);
  std::vector<std::vector<int>> dependencies = data.dependencies;
  if (dependencies.empty()) {
    std::vector<int> all(phases);
    for (int j = 0; j < phases; ++j) all[j] = j;
    dependencies.assign(pattern_count * outputs, all);
  }
  std::vector<bool> placed(phases, false);
  std::vector<int> placed_list;
  std::vector<double> bias(phases, 0.0);
  mask.setZero();
  while (static_cast<int>(placed_list.size()) < phases) {
    // The reading that brings in the fewest new phases.
    std::vector<int> fresh;
    std::size_t best_size = std::numeric_limits<std::size_t>::max();
    for (const std::vector<int>& deps : dependencies) {
      std::vector<int> candidate;
      for (int j : deps) {
        if (!placed[j]) candidate.push_back(j);
      }
      if (!candidate.empty() && candidate.size() < best_size) {
        best_size = candidate.size();
        fresh = std::move(candidate);
      }
    }
    if (fresh.empty()) {  // phases no reading depends on: unobservable
      for (int j = 0; j < phases; ++j) {
        if (!placed[j]) fresh.push_back(j);
      }
    }
    for (int j : fresh) placed[j] = true;
    for (Eigen::Index t = 0; t < pattern_count * outputs; ++t) {
      const bool covered = std::all_of(dependencies[t].begin(), dependencies[t].end(),
                                       [&](int j) { return placed[j]; });
      mask(t / outputs, t % outputs) = covered ? 1.0 : 0.0;
    }
    std::vector<double> step_best = bias;
    double step_best_rms = std::numeric_limits<double>::infinity();
    std::vector<int> active = placed_list;
    active.insert(active.end(), fresh.begin(), fresh.end());
    for (int r = 0; r < std::max(1, options.restarts); ++r) {
      std::vector<double> trial = bias;
      for (int j : fresh) trial[j] = uniform(rng);
      double rms = masked_rms(trial);
      for (int s = 0; s < options.sweeps; ++s) {
        sweep(trial, fresh);
        const double next = masked_rms(trial);
        const bool stalled = rms - next < 1e-4 * rms;
        rms = next;
        if (stalled) break;
      }
      if (rms < step_best_rms) {
        step_best_rms = rms;
        step_best = trial;
      }
      if (step_best_rms < options.good_enough_rms) break;
    }
    bias = std::move(step_best);
    placed_list = active;
    // The earlier phases follow the new readings: Levenberg-Marquardt on
    // every placed bias, on the readings placed so far.
    {
      RefineScope scope;
      scope.mask = &mask;
      scope.free_phases = placed_list;
      scope.fit_efficiency = false;
      std::vector<double> eta = efficiency_rad_per_mw;
      RefineBiasesAndEfficiencies(model, data, bias, eta, crosstalk, 6, scope);
    }
    if (options.on_progress) {
      options.on_progress(static_cast<int>(placed_list.size()), phases, masked_rms(bias));
    }
  }
  BiasFitResult best;
  best.bias_rad = std::move(bias);
  best.efficiency_rad_per_mw = efficiency_rad_per_mw;
  best.rms_residual = RefineBiasesAndEfficiencies(
      model, data, best.bias_rad, best.efficiency_rad_per_mw, crosstalk, options.polish_iterations);
  best.restarts_used = options.restarts;
  return best;
}

}  // namespace phc::daemon
