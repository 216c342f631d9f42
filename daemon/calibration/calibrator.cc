#include "daemon/calibration/calibrator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/calibration/calibration_fit.h"
#include "daemon/calibration/calibration_io.h"
#include "daemon/calibration/column_peeling.h"
#include "photonsim/clements_decomposition.h"
#include "photonsim/linear_circuit.h"
#include "photonsim/svd_programming.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

// Lossless MZI meshes only: readings are normalised to their sum, which an
// SVD core (its attenuators dump light) does not conserve. SVD cores and
// microring banks keep their nominal model for now.
bool IsCalibrated(const photonsim::CircuitLayout& circuit) {
  return circuit.kind == photonsim::CircuitKind::kMesh;
}

// Tracks progress over the whole run and estimates the time left.
class ProgressTracker {
 public:
  ProgressTracker(const CalibrationProgressFn& callback, double total_units)
      : callback_(callback), total_(total_units), start_(std::chrono::steady_clock::now()) {}

  void Advance(double units, const std::string& stage, int phase) {
    done_ += units;
    if (!callback_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report_ < std::chrono::milliseconds(100) && done_ < total_) return;
    last_report_ = now;
    CalibrationStatus status;
    status.fraction = std::min(1.0, done_ / total_);
    status.stage = stage;
    status.phase = phase;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    status.eta_seconds =
        status.fraction > 0 ? elapsed * (1 - status.fraction) / status.fraction : 0;
    callback_(status);
  }

 private:
  const CalibrationProgressFn& callback_;
  double total_;
  double done_ = 0.0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_report_{};
};

// PowerGuard judges currents and power with the worst-case resistance
// R_nominal (1 - 3 sigma); calibration powers are nominal (V^2 / R_nominal).
double WorstCaseResistanceRatio(const ChipController& controller) {
  return 1.0 - 3.0 * controller.chip().fabrication().resistance_spread();
}

// Largest nominal power one heater may take alone.
double MaxSinglePowerMw(const ChipController& controller) {
  const HeaterLimits& limits = controller.heater_limits();
  const double r = controller.chip().heater().resistance_ohm();
  const double ratio = WorstCaseResistanceRatio(controller);
  const double by_voltage = limits.max_voltage_v * limits.max_voltage_v / r * 1e3;
  const double by_current = std::pow(limits.max_current_ma * 1e-3 * ratio, 2) * r * 1e3;
  return 0.99 * std::min({by_voltage, by_current, limits.max_total_power_mw * ratio});
}

}  // namespace

// Output powers of one circuit, normalised to sum 1 (nullopt if dark).
absl::StatusOr<Eigen::RowVectorXd> ReadFractions(ChipController& controller,
                                                 const photonsim::CircuitLayout& circuit,
                                                 int averages) {
  absl::StatusOr<DetectorReading> reading = controller.ReadDetectors(averages);
  if (!reading.ok()) return reading.status();
  Eigen::RowVectorXd fractions(circuit.output_count);
  for (int k = 0; k < circuit.output_count; ++k) {
    fractions(k) = std::max(0.0, reading->optical_power_mw[circuit.first_output + k]);
  }
  const double total = fractions.sum();
  if (total > 0.0) fractions /= total;
  return fractions;
}

absl::Status SetCircuitInputs(ChipController& controller, const photonsim::CircuitLayout& circuit,
                              const Eigen::RowVectorXcd& pattern) {
  std::vector<double> amplitudes(controller.input_count(), 0.0);
  for (int i = 0; i < circuit.input_count; ++i) {
    amplitudes[circuit.first_input + i] = std::abs(pattern(i));
  }
  return controller.SetInputs(amplitudes).status();
}

// N one-hot inputs and N-1 adjacent pairs (coherent, equal phase): the pairs
// make the phases in front of the first column observable.
photonsim::MatrixXc InputPatterns(int n) {
  photonsim::MatrixXc patterns = photonsim::MatrixXc::Zero(2 * n - 1, n);
  for (int i = 0; i < n; ++i) patterns(i, i) = 1.0;
  for (int i = 0; i + 1 < n; ++i) {
    patterns(n + i, i) = patterns(n + i, i + 1) = 1.0 / std::sqrt(2.0);
  }
  return patterns;
}

std::vector<std::vector<photonsim::CrosstalkEntry>> LocalCrosstalk(
    const std::vector<std::vector<photonsim::CrosstalkEntry>>& chip_crosstalk,
    const photonsim::CircuitLayout& circuit) {
  std::vector<std::vector<photonsim::CrosstalkEntry>> local(circuit.phase_count);
  for (int i = 0; i < circuit.phase_count; ++i) {
    for (const photonsim::CrosstalkEntry& e : chip_crosstalk[circuit.first_phase + i]) {
      local[i].push_back({e.source_heater - circuit.first_phase, e.coupling});
    }
  }
  return local;
}

// Solves (I + G) x = b by Jacobi iteration (G: circuit-local couplings whose
// rows sum to well below one).
std::vector<double> SolveWithCrosstalk(const std::vector<std::vector<photonsim::CrosstalkEntry>>& g,
                                       const std::vector<double>& b) {
  std::vector<double> x = b, next(b.size());
  for (int round = 0; round < 100; ++round) {
    double change = 0.0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      next[i] = b[i];
      for (const photonsim::CrosstalkEntry& e : g[i]) next[i] -= e.coupling * x[e.source_heater];
      change = std::max(change, std::abs(next[i] - x[i]));
    }
    x.swap(next);
    if (change < 1e-12) break;
  }
  return x;
}

namespace {

// Heater powers of a single-heater sweep with the design crosstalk fed
// forward: every heater of the circuit is held at a small base power and
// the swept heater's neighbours are turned down as it heats them, so that
// the power every phase shifter feels is base_felt + (swept? t : 0). Without
// this, each neighbour's phase drifts by a few % of the swept phase, which
// the single-frequency fit absorbs into a wrong efficiency (errors of 10-30 %
// on heaters whose own fringe is weak).
struct CompensatedSweep {
  std::vector<double> base_mw;              // circuit-local powers at t = 0
  std::vector<std::vector<double>> per_mw;  // per swept heater: d powers / d t
  double base_felt_mw = 0.0;
};

CompensatedSweep PlanCompensatedSweep(const std::vector<std::vector<photonsim::CrosstalkEntry>>& g,
                                      double sweep_max_mw) {
  const int phases = static_cast<int>(g.size());
  CompensatedSweep plan;
  double largest_coupling = 0.0, largest_row = 0.0;
  for (const auto& row : g) {
    double sum = 0.0;
    for (const photonsim::CrosstalkEntry& e : row) {
      largest_coupling = std::max(largest_coupling, e.coupling);
      sum += e.coupling;
    }
    largest_row = std::max(largest_row, sum);
  }
  plan.per_mw.resize(phases);
  if (largest_coupling <= 0.0) {
    plan.base_mw.assign(phases, 0.0);
    for (int j = 0; j < phases; ++j) {
      plan.per_mw[j].assign(phases, 0.0);
      plan.per_mw[j][j] = 1.0;
    }
    return plan;
  }
  // A neighbour is turned down by at most about coupling * sweep_max: its
  // base power (base_felt / (1 + row sum)) must cover that with margin.
  plan.base_felt_mw = 1.5 * largest_coupling * sweep_max_mw * (1.0 + largest_row);
  plan.base_mw = SolveWithCrosstalk(g, std::vector<double>(phases, plan.base_felt_mw));
  for (int j = 0; j < phases; ++j) {
    std::vector<double> unit(phases, 0.0);
    unit[j] = 1.0;
    plan.per_mw[j] = SolveWithCrosstalk(g, unit);
  }
  return plan;
}

struct CircuitFit {
  std::vector<double> bias_rad;
  std::vector<double> efficiency;
  std::vector<bool> fitted;
  double efficiency_rms = 0.0;
  double bias_rms = 0.0;
  double crosstalk_nearest = 0.0;
  int measurements = 0;
};

}  // namespace

absl::StatusOr<CalibrationOptions> CalibrationOptionsFrom(
    const photonic::v1::CalibrateRequest& request) {
  CalibrationOptions options;
  auto pick = [](std::uint32_t value, int fallback) {
    return value == 0 ? fallback : static_cast<int>(std::min<std::uint32_t>(value, 1u << 20));
  };
  options.configurations = pick(request.configurations(), options.configurations);
  options.sweep_points = pick(request.sweep_points(), options.sweep_points);
  options.averages = pick(request.averages(), options.averages);
  options.max_restarts = pick(request.max_restarts(), options.max_restarts);
  options.seed = request.seed();
  if (options.configurations < 4 || options.configurations > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("configurations = ", options.configurations, " must be in [4, 10000]"));
  }
  if (options.sweep_points < 8 || options.sweep_points > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep_points = ", options.sweep_points, " must be in [8, 1000]"));
  }
  if (options.averages > kMaxAverages) {
    return absl::InvalidArgumentError(
        absl::StrCat("averages = ", options.averages, " must be at most ", kMaxAverages));
  }
  if (options.max_restarts > 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_restarts = ", options.max_restarts, " must be at most 200"));
  }
  return options;
}

namespace {

absl::StatusOr<photonic::v1::PhaseCalibration> RunCalibrationStages(
    ChipController& controller, const CalibrationOptions& options,
    const CalibrationProgressFn& progress, const std::atomic<bool>* cancelled) {
  const auto wall_start = std::chrono::steady_clock::now();
  const auto chip_start = controller.ChipTime();
  const photonic::v1::ChipDescription& chip = controller.chip();
  const photonsim::ChipLayout& layout = controller.layout();
  const double nominal_eta = std::numbers::pi / chip.heater().p_pi_mw();
  const double decay =
      chip.thermal().crosstalk_decay_pitch() > 0 ? chip.thermal().crosstalk_decay_pitch() : 1.0;
  const double cutoff =
      chip.thermal().crosstalk_cutoff_pitch() > 0 ? chip.thermal().crosstalk_cutoff_pitch() : 3.0;
  const double max_single_mw = MaxSinglePowerMw(controller);
  const int phase_count = controller.phase_count();

  double total_units = 0.0;
  for (const auto& circuit : layout.circuits) {
    if (!IsCalibrated(circuit)) continue;
    const int patterns = 2 * circuit.size - 1;
    // The fit takes about nine times as long as the readings in our runs.
    total_units +=
        10.0 * (circuit.phase_count * options.sweep_points + options.configurations * patterns);
  }
  ProgressTracker tracker(progress, std::max(1.0, total_units));
  auto check_cancel = [&]() -> absl::Status {
    if (cancelled != nullptr && cancelled->load()) {
      controller.DriveToSafeState().IgnoreError();
      return absl::CancelledError("calibration cancelled");
    }
    return absl::OkStatus();
  };

  std::vector<double> bias(phase_count, 0.0), efficiency(phase_count, nominal_eta);
  std::vector<bool> fitted(phase_count, false);
  double efficiency_rms_sum = 0.0, bias_rms_sum = 0.0, nearest_sum = 0.0;
  int fitted_circuits = 0, measurements = 0;
  std::mt19937_64 rng(options.seed);

  for (const photonsim::CircuitLayout& circuit : layout.circuits) {
    if (!IsCalibrated(circuit)) continue;
    const int n = circuit.size;
    const int patterns = 2 * n - 1;
    // --- Stage 1: one heater at a time, all inputs lit.
    Eigen::RowVectorXcd sweep_pattern(n);
    std::uniform_real_distribution<double> amplitude(0.5, 1.0);
    for (int i = 0; i < n; ++i) sweep_pattern(i) = amplitude(rng);
    if (absl::Status s = SetCircuitInputs(controller, circuit, sweep_pattern); !s.ok()) return s;
    // The sweep feeds the design crosstalk forward (see PlanCompensatedSweep);
    // if the chip's budget cannot hold the base powers, it sweeps alone.
    const double design_nearest = chip.thermal().crosstalk_nearest();
    std::vector<std::vector<photonsim::CrosstalkEntry>> design_crosstalk(circuit.phase_count);
    if (design_nearest > 0.0) {
      design_crosstalk =
          LocalCrosstalk(CrosstalkModel(chip, design_nearest, decay, cutoff), circuit);
    }
    double sweep_max_mw = std::min(2.5 * chip.heater().p_pi_mw(), max_single_mw);
    CompensatedSweep sweep_plan = PlanCompensatedSweep(design_crosstalk, sweep_max_mw);
    {
      // The swept heater holds about base_felt + sweep_max; all hold the base.
      const double budget = 0.9 * controller.heater_limits().max_total_power_mw *
                            WorstCaseResistanceRatio(controller);
      double base_total = 0.0;
      for (double p : sweep_plan.base_mw) base_total += p;
      const double room = std::min(max_single_mw - sweep_plan.base_felt_mw, budget - base_total);
      if (room >= 2.2 * chip.heater().p_pi_mw()) {
        sweep_max_mw = std::min(sweep_max_mw, room);
      } else {
        spdlog::warn("calibration {}: no power left for crosstalk-compensated sweeps",
                     circuit.name);
        sweep_plan = PlanCompensatedSweep(
            std::vector<std::vector<photonsim::CrosstalkEntry>>(circuit.phase_count), sweep_max_mw);
      }
    }
    std::vector<double> sweep_powers(options.sweep_points);
    for (int p = 0; p < options.sweep_points; ++p) {
      sweep_powers[p] = sweep_max_mw * p / (options.sweep_points - 1);
    }
    std::vector<double> local_eta(circuit.phase_count, nominal_eta);
    double circuit_efficiency_rms = 0.0;
    for (int j = 0; j < circuit.phase_count; ++j) {
      const int heater = circuit.first_phase + j;
      Eigen::MatrixXd readings(options.sweep_points, circuit.output_count);
      std::vector<double> powers(phase_count, 0.0);
      for (int p = 0; p < options.sweep_points; ++p) {
        if (absl::Status s = check_cancel(); !s.ok()) return s;
        for (int i = 0; i < circuit.phase_count; ++i) {
          powers[circuit.first_phase + i] =
              std::max(0.0, sweep_plan.base_mw[i] + sweep_powers[p] * sweep_plan.per_mw[j][i]);
        }
        if (absl::Status s = controller.SetHeaterPowers(powers); !s.ok()) return s;
        absl::StatusOr<Eigen::RowVectorXd> row =
            ReadFractions(controller, circuit, options.averages);
        if (!row.ok()) return row.status();
        readings.row(p) = *row;
        ++measurements;
        tracker.Advance(1, "efficiency", heater);
      }
      const SweepFit fit = FitSweepFrequency(sweep_powers, readings, nominal_eta);
      circuit_efficiency_rms += fit.rms_residual / circuit.phase_count;
      // A fitted eta is only trusted when the sweep covered a full fringe.
      const bool full_fringe = fit.efficiency_rad_per_mw * sweep_max_mw >= kTwoPi;
      if (fit.visibility > 0.01 && full_fringe) {
        local_eta[j] = fit.efficiency_rad_per_mw;
      } else {
        spdlog::warn(
            "calibration: heater {} sweep shows no full fringe (visibility {:.4f}, {:.2f} rad "
            "swept); nominal efficiency kept",
            heater, fit.visibility, fit.efficiency_rad_per_mw * sweep_max_mw);
      }
    }

    // --- Stage 2: random configurations through one-hot and paired inputs.
    BiasFitData data;
    data.patterns = InputPatterns(n);
    data.dependencies = ReadingDependencies(circuit, data.patterns);
    for (int c = 0; c < options.configurations; ++c) {
      std::vector<double> powers(phase_count, 0.0);
      std::vector<double> local(circuit.phase_count);
      double total = 0.0;
      for (int j = 0; j < circuit.phase_count; ++j) {
        local[j] = std::min(
            max_single_mw, std::uniform_real_distribution<double>(0.0, kTwoPi / local_eta[j])(rng));
        total += local[j];
      }
      const double budget = 0.9 * controller.heater_limits().max_total_power_mw *
                            WorstCaseResistanceRatio(controller);
      if (total > budget) {
        for (double& p : local) p *= budget / total;
      }
      for (int j = 0; j < circuit.phase_count; ++j) powers[circuit.first_phase + j] = local[j];
      if (absl::Status s = controller.SetHeaterPowers(powers); !s.ok()) return s;
      Eigen::MatrixXd measured(data.patterns.rows(), circuit.output_count);
      for (Eigen::Index q = 0; q < data.patterns.rows(); ++q) {
        if (absl::Status s = check_cancel(); !s.ok()) return s;
        if (absl::Status s = SetCircuitInputs(controller, circuit, data.patterns.row(q)); !s.ok()) {
          return s;
        }
        absl::StatusOr<Eigen::RowVectorXd> row =
            ReadFractions(controller, circuit, options.averages);
        if (!row.ok()) return row.status();
        measured.row(q) = *row;
        ++measurements;
        tracker.Advance(1, "bias", -1);
      }
      data.powers_mw.push_back(std::move(local));
      data.measured.push_back(std::move(measured));
    }
    controller.DriveToSafeState().IgnoreError();

    // --- Stage 3: fit biases, then the crosstalk strength, then refine. A
    // fit that ends far above the noise (a wrong basin) is tried again from
    // other random starts, up to kAttempts times; the best is kept.
    constexpr int kAttempts = 6;
    constexpr double kAcceptableRms = 0.03;
    std::unique_ptr<photonsim::LinearCircuit> model = photonsim::MakeIdealLinearCircuit(circuit);
    const double fit_units =
        9.0 * (circuit.phase_count * options.sweep_points + options.configurations * patterns);
    std::vector<std::vector<photonsim::CrosstalkEntry>> no_crosstalk(circuit.phase_count);
    auto crosstalk_for = [&](double nearest) {
      if (nearest <= 0.0) return no_crosstalk;
      return LocalCrosstalk(CrosstalkModel(chip, nearest, decay, cutoff), circuit);
    };
    struct Candidate {
      double nearest = 0.0;
      std::vector<double> bias, eta;
      double rms = std::numeric_limits<double>::infinity();
    };
    auto try_nearest = [&](double nearest, const std::vector<double>& bias0,
                           const std::vector<double>& eta0, int iterations) {
      Candidate c{nearest, bias0, eta0, 0.0};
      c.rms = RefineBiasesAndEfficiencies(*model, data, c.bias, c.eta, crosstalk_for(nearest),
                                          iterations);
      tracker.Advance(0.15 * fit_units / 12, "crosstalk", -1);
      return c;
    };
    // A Clements mesh gets a structured first estimate, column by column
    // (column_peeling.h): bright readings with one unknown each, where the
    // random-configuration search below starts from readings that are dark
    // on large meshes (docs/calibration.md).
    std::optional<std::vector<double>> peeled;
    if (options.column_peeling &&
        circuit.spec.mesh().topology() == photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
      PeelOptions peel_options;
      peel_options.averages = options.averages;
      peel_options.seed = options.seed + circuit.first_phase;
      absl::StatusOr<std::vector<double>> estimate = PeelMeshBiases(
          controller, circuit, local_eta, crosstalk_for(chip.thermal().crosstalk_nearest()),
          peel_options, check_cancel, &measurements);
      controller.DriveToSafeState().IgnoreError();
      if (estimate.ok()) {
        peeled = *std::move(estimate);
      } else if (estimate.status().code() == absl::StatusCode::kCancelled) {
        return estimate.status();
      } else {
        spdlog::warn("calibration {}: column peeling failed ({}); searching instead", circuit.name,
                     estimate.status().ToString());
      }
    }
    Candidate best;
    for (int attempt = 0; attempt < kAttempts && !(best.rms < kAcceptableRms); ++attempt) {
      BiasFitOptions fit_options;
      fit_options.seed = options.seed + circuit.first_phase + 7919 * attempt;
      fit_options.restarts = options.max_restarts;
      fit_options.circuit = &circuit;
      fit_options.good_enough_rms = 0.02;
      int placed_before = 0;
      fit_options.on_progress = [&](int placed, int phases, double) {
        // Retries are extra work: the bar slows, it does not run past 100 %.
        const double share = attempt == 0 ? 0.85 : 0.0;
        tracker.Advance(share * fit_units * (placed - placed_before) / phases, "bias fit", -1);
        placed_before = placed;
      };
      // The search runs without crosstalk: with the design's crosstalk
      // assumed it ended in a wrong basin in our runs. Its strength is
      // fitted next: for each candidate strength, biases and efficiencies
      // are refined jointly (Levenberg-Marquardt) and the best fit wins.
      BiasFitResult fit;
      if (attempt == 0 && peeled) {
        fit.bias_rad = *peeled;
        fit.efficiency_rad_per_mw = local_eta;
      } else {
        fit = FitPhaseBiases(*model, data, local_eta, no_crosstalk, fit_options);
      }
      Candidate found = try_nearest(0.0, fit.bias_rad, fit.efficiency_rad_per_mw, 4);
      for (double nearest : {0.01, 0.02, 0.03, 0.04, 0.06, 0.08}) {
        Candidate c = try_nearest(nearest, found.bias, found.eta, 4);
        if (c.rms < found.rms) found = std::move(c);
      }
      for (double delta : {-0.005, 0.005, -0.0025, 0.0025}) {
        if (found.nearest + delta < 0.0) continue;
        Candidate c = try_nearest(found.nearest + delta, found.bias, found.eta, 4);
        if (c.rms < found.rms) found = std::move(c);
      }
      found = try_nearest(found.nearest, found.bias, found.eta, 10);
      spdlog::info("calibration {}: attempt {} fits with rms {:.5f} (crosstalk {:.4f})",
                   circuit.name, attempt + 1, found.rms, found.nearest);
      if (found.rms < best.rms) best = std::move(found);
    }
    if (!(best.rms < kAcceptableRms)) {
      spdlog::warn(
          "calibration {}: best fit rms {:.4f} is poor; the chip may differ from its "
          "model (see docs/calibration.md)",
          circuit.name, best.rms);
    }
    BiasFitResult fit;
    fit.bias_rad = best.bias;
    fit.rms_residual = best.rms;
    local_eta = best.eta;
    const double nearest = best.nearest;

    for (int j = 0; j < circuit.phase_count; ++j) {
      bias[circuit.first_phase + j] = fit.bias_rad[j];
      efficiency[circuit.first_phase + j] = local_eta[j];
      fitted[circuit.first_phase + j] = true;
    }
    efficiency_rms_sum += circuit_efficiency_rms;
    bias_rms_sum += fit.rms_residual;
    nearest_sum += nearest;
    ++fitted_circuits;
    spdlog::info("calibrated {}: efficiency fit rms {:.4f}, bias fit rms {:.4f}, crosstalk {:.4f}",
                 circuit.name, circuit_efficiency_rms, fit.rms_residual, nearest);
  }

  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name(chip.name());
  calibration.set_created_at(absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));
  calibration.mutable_phase_bias_rad()->Assign(bias.begin(), bias.end());
  calibration.mutable_efficiency_rad_per_mw()->Assign(efficiency.begin(), efficiency.end());
  for (bool f : fitted) calibration.add_fitted(f);
  const int circuits = std::max(1, fitted_circuits);
  calibration.set_crosstalk_nearest(nearest_sum / circuits);
  calibration.set_crosstalk_decay_pitch(decay);
  calibration.set_crosstalk_cutoff_pitch(cutoff);
  calibration.set_efficiency_fit_rms(efficiency_rms_sum / circuits);
  calibration.set_bias_fit_rms(bias_rms_sum / circuits);
  calibration.set_measurements(measurements);
  calibration.set_chip_seconds(
      std::chrono::duration<double>(controller.ChipTime() - chip_start).count());
  calibration.set_wall_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count());

  absl::StatusOr<HeaterPhaseModel> model = HeaterPhaseModel::FromCalibration(chip, calibration);
  if (!model.ok()) return model.status();
  // A cancel that arrived during the fit still wins: nothing is installed.
  if (absl::Status s = check_cancel(); !s.ok()) return s;
  controller.DriveToSafeState().IgnoreError();
  controller.InstallPhaseModel(*std::move(model));
  tracker.Advance(0, "done", -1);
  return calibration;
}

}  // namespace

absl::StatusOr<photonic::v1::PhaseCalibration> RunCalibration(ChipController& controller,
                                                              const CalibrationOptions& options,
                                                              const CalibrationProgressFn& progress,
                                                              const std::atomic<bool>* cancelled) {
  absl::StatusOr<photonic::v1::PhaseCalibration> result =
      RunCalibrationStages(controller, options, progress, cancelled);
  // Whatever stage failed, the heaters do not stay at a sweep point.
  if (!result.ok()) controller.DriveToSafeState().IgnoreError();
  return result;
}

absl::StatusOr<UnitaryMeasurement> ProgramUnitaryAndMeasure(ChipController& controller,
                                                            int circuit_index,
                                                            const photonsim::MatrixXc& target,
                                                            int averages) {
  const photonsim::ChipLayout& layout = controller.layout();
  if (circuit_index < 0 || circuit_index >= static_cast<int>(layout.circuits.size())) {
    return absl::InvalidArgumentError(absl::StrCat("circuit ", circuit_index, " does not exist (",
                                                   layout.circuits.size(), " circuits)"));
  }
  const photonsim::CircuitLayout& circuit = layout.circuits[circuit_index];
  const int n = circuit.size;
  if (target.rows() != n || target.cols() != n) {
    return absl::InvalidArgumentError(absl::StrCat("target is ", target.rows(), "x", target.cols(),
                                                   "; circuit ", circuit.name, " is ", n, "x", n));
  }
  std::vector<double> phases;
  if (circuit.kind == photonsim::CircuitKind::kSvd) {
    absl::StatusOr<photonsim::SvdCoreProgram> program = photonsim::ProgramSvdCore(target);
    if (!program.ok()) return program.status();
    phases = program->phases_rad;
  } else if (circuit.kind == photonsim::CircuitKind::kMesh &&
             circuit.spec.mesh().topology() == photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
    absl::StatusOr<photonsim::MeshProgram> program = photonsim::DecomposeClements(target);
    if (!program.ok()) return program.status();
    phases = program->phases_rad;
  } else {
    return absl::UnimplementedError(absl::StrCat("programming a unitary onto ",
                                                 photonsim::CircuitKindName(circuit),
                                                 " is not supported (Clements meshes, SVD cores)"));
  }
  std::vector<std::uint32_t> indices(circuit.phase_count);
  for (int j = 0; j < circuit.phase_count; ++j) indices[j] = circuit.first_phase + j;
  if (absl::Status s = controller.SetPhases(phases, indices).status(); !s.ok()) return s;

  UnitaryMeasurement result;
  result.measured.resize(n, n);
  result.target = target.cwiseAbs2();
  for (int i = 0; i < n; ++i) {
    Eigen::RowVectorXcd pattern = Eigen::RowVectorXcd::Zero(n);
    pattern(i) = 1.0;
    if (absl::Status s = SetCircuitInputs(controller, circuit, pattern); !s.ok()) return s;
    absl::StatusOr<Eigen::RowVectorXd> row = ReadFractions(controller, circuit, averages);
    if (!row.ok()) return row.status();
    result.measured.col(i) = row->transpose();
  }
  double fidelity = 0.0;
  for (int i = 0; i < n; ++i) {
    const double overlap =
        (result.measured.col(i).cwiseSqrt().cwiseProduct(result.target.col(i).cwiseSqrt())).sum();
    fidelity += overlap * overlap / n;
  }
  result.fidelity = fidelity;
  return result;
}

}  // namespace phc::daemon
