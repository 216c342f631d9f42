#include "daemon/calibration/calibrator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/calibration/calibration_fit.h"
#include "daemon/calibration/calibration_io.h"
#include "daemon/calibration/column_peeling.h"
#include "daemon/chip/heater_model.h"
#include "daemon/chip/heater_phase_model.h"
#include "photonsim/clements_decomposition.h"
#include "photonsim/linear_circuit.h"
#include "photonsim/phase.h"
#include "photonsim/svd_programming.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

using photonsim::kTwoPi;
// Per phase of a circuit (circuit-local indices): the heaters it feels.
using Crosstalk = std::vector<std::vector<photonsim::CrosstalkEntry>>;

// Lossless MZI meshes only: readings are normalised to their sum, which an
// SVD core (its attenuators dump light) does not conserve. Microring banks
// and intensity SVD cores keep their nominal model for now.
bool IsCalibrated(const photonsim::CircuitLayout& circuit) {
  return circuit.kind == photonsim::CircuitKind::kMesh;
}

// Coherent SVD cores: efficiencies from the sweeps (their balanced readings
// are first-order sinusoids in any one phase, as a mesh's powers are); the
// rest is programmed in situ with a model (in_situ_programming.h).
bool IsSweptOnly(const photonsim::CircuitLayout& circuit) {
  return circuit.kind == photonsim::CircuitKind::kSvd && circuit.spec.svd().coherent_readout();
}

// Readings the sweeps (stage 1) and the random configurations (stage 2)
// take on one circuit.
int PlannedReadings(const photonsim::CircuitLayout& circuit, const CalibrationOptions& options) {
  const int patterns = 2 * circuit.size - 1;
  return circuit.phase_count * options.sweep_points + options.configurations * patterns;
}

// Progress units of a whole run: one per planned reading, and nine more for
// the fit, which takes about nine times as long as the readings in our runs.
double TotalProgressUnits(const photonsim::ChipLayout& layout, const CalibrationOptions& options) {
  double total_units = 0.0;
  for (const auto& circuit : layout.circuits) {
    if (IsCalibrated(circuit)) total_units += 10.0 * PlannedReadings(circuit, options);
    if (IsSweptOnly(circuit)) total_units += circuit.phase_count * options.sweep_points;
  }
  return total_units;
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

// Largest nominal power one heater may take alone. Calibration powers are
// nominal (V^2 / R_nominal); PowerGuard judges them with the worst-case
// resistance (heater_model.h).
double MaxSinglePowerMw(const ChipController& controller) {
  const HeaterLimits& limits = controller.heater_limits();
  const double r = controller.chip().heater().resistance_ohm();
  const double ratio = WorstCaseResistanceRatio(controller.chip());
  const double by_voltage = limits.max_voltage_v * limits.max_voltage_v / r * 1e3;
  const double by_current = std::pow(limits.max_current_ma * 1e-3 * ratio, 2) * r * 1e3;
  return 0.99 * std::min({by_voltage, by_current, limits.max_total_power_mw * ratio});
}

// Total nominal power a calibration configuration may draw: 90 % of what
// PowerGuard allows.
double ConfigurationBudgetMw(const ChipController& controller) {
  return 0.9 * controller.heater_limits().max_total_power_mw *
         WorstCaseResistanceRatio(controller.chip());
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

Crosstalk LocalCrosstalk(const Crosstalk& chip_crosstalk, const photonsim::CircuitLayout& circuit) {
  Crosstalk local(circuit.phase_count);
  for (int i = 0; i < circuit.phase_count; ++i) {
    for (const photonsim::CrosstalkEntry& e : chip_crosstalk[circuit.first_phase + i]) {
      local[i].push_back({e.source_heater - circuit.first_phase, e.coupling});
    }
  }
  return local;
}

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

CompensatedSweep PlanCompensatedSweep(const Crosstalk& g, double sweep_max_mw) {
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

// The single-heater sweeps of one circuit (stage 1).
struct SweepPlan {
  CompensatedSweep compensation;
  double max_mw = 0.0;            // the swept heater's largest extra power
  std::vector<double> powers_mw;  // its extra power at each sweep point
};

// Stage 1's result for one circuit.
struct EfficiencyFit {
  std::vector<double> efficiency_rad_per_mw;  // circuit-local; nominal where not trusted
  double rms = 0.0;                           // mean residual RMS of the sweep fits
  std::vector<int> trusted;                   // heaters whose sweep covered a full fringe
};

// One circuit's biases, efficiencies (circuit-local) and crosstalk strength,
// and how well they fit the readings.
struct CircuitFit {
  double nearest = 0.0;  // crosstalk coupling of nearest neighbours
  std::vector<double> bias_rad;
  std::vector<double> efficiency_rad_per_mw;
  double rms = std::numeric_limits<double>::infinity();
};

double PositiveOr(double value, double fallback) { return value > 0 ? value : fallback; }

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

// One calibration run. Every calibrated circuit goes through three stages:
//   1. SweepEfficiencies: one heater at a time, all inputs lit;
//   2. ReadRandomConfigurations: random configurations through one-hot and
//      paired inputs;
//   3. FitBiasesAndCrosstalk: biases, then the crosstalk strength, then a
//      refinement (on Clements meshes from the PeelBiases estimate).
// The run holds what the stages share: the chip's numbers, one random
// stream (drawn from by the circuits and stages in that order), the
// progress bar, the reading count and the chip-wide result.
// REQUIRES: used on the controller's hardware thread, once.
class CalibrationRun {
 public:
  CalibrationRun(ChipController& controller, const CalibrationOptions& options,
                 const CalibrationProgressFn& progress, const std::atomic<bool>* cancelled)
      : controller_(controller),
        options_(options),
        cancelled_(cancelled),
        chip_(controller.chip()),
        wall_start_(std::chrono::steady_clock::now()),
        chip_start_(controller.ChipTime()),
        nominal_eta_(std::numbers::pi / chip_.heater().p_pi_mw()),
        decay_pitch_(PositiveOr(chip_.thermal().crosstalk_decay_pitch(), 1.0)),
        cutoff_pitch_(PositiveOr(chip_.thermal().crosstalk_cutoff_pitch(), 3.0)),
        max_single_mw_(MaxSinglePowerMw(controller)),
        tracker_(progress, std::max(1.0, TotalProgressUnits(controller.layout(), options))),
        rng_(options.seed),
        bias_rad_(controller.phase_count(), 0.0),
        efficiency_rad_per_mw_(controller.phase_count(), nominal_eta_),
        fitted_(controller.phase_count(), false),
        efficiency_fitted_(controller.phase_count(), false) {}

  // Calibrates every calibrated circuit, then installs the result.
  absl::StatusOr<photonic::v1::PhaseCalibration> Run() {
    for (const photonsim::CircuitLayout& circuit : controller_.layout().circuits) {
      if (IsCalibrated(circuit)) {
        if (absl::Status s = CalibrateCircuit(circuit); !s.ok()) return s;
      } else if (IsSweptOnly(circuit)) {
        absl::StatusOr<EfficiencyFit> efficiency = SweepEfficiencies(circuit);
        if (!efficiency.ok()) return efficiency.status();
        RecordEfficiencies(circuit, *efficiency);
      }
    }
    return InstallResult();
  }

 private:
  absl::Status CalibrateCircuit(const photonsim::CircuitLayout& circuit) {
    absl::StatusOr<EfficiencyFit> efficiency = SweepEfficiencies(circuit);
    if (!efficiency.ok()) return efficiency.status();
    const std::vector<double>& eta = efficiency->efficiency_rad_per_mw;
    absl::StatusOr<BiasFitData> data = ReadRandomConfigurations(circuit, eta);
    if (!data.ok()) return data.status();
    absl::StatusOr<std::optional<std::vector<double>>> peeled = PeelBiases(circuit, eta);
    if (!peeled.ok()) return peeled.status();
    Record(circuit, efficiency->rms, FitBiasesAndCrosstalk(circuit, *data, eta, *peeled));
    return absl::OkStatus();
  }

  // CANCELLED (with the chip driven safe) once `cancelled` turned true.
  absl::Status CheckCancelled() {
    if (cancelled_ != nullptr && cancelled_->load()) {
      controller_.DriveToSafeState().IgnoreError();
      return absl::CancelledError("calibration cancelled");
    }
    return absl::OkStatus();
  }

  // The design's crosstalk with nearest-neighbour coupling `nearest`
  // (none if not positive), circuit-local.
  Crosstalk CircuitCrosstalk(const photonsim::CircuitLayout& circuit, double nearest) const {
    if (!(nearest > 0.0)) return Crosstalk(circuit.phase_count);
    return LocalCrosstalk(CrosstalkModel(chip_, nearest, decay_pitch_, cutoff_pitch_), circuit);
  }

  // --- Stage 1: one heater at a time, all inputs lit.
  absl::StatusOr<EfficiencyFit> SweepEfficiencies(const photonsim::CircuitLayout& circuit) {
    if (absl::Status s = LightInputsForSweeps(circuit); !s.ok()) return s;
    const SweepPlan plan = PlanSweeps(circuit);
    EfficiencyFit result;
    result.efficiency_rad_per_mw.assign(circuit.phase_count, nominal_eta_);
    for (int j = 0; j < circuit.phase_count; ++j) {
      absl::StatusOr<Eigen::MatrixXd> readings = SweepHeater(circuit, plan, j);
      if (!readings.ok()) return readings.status();
      const SweepFit fit = FitSweepFrequency(plan.powers_mw, *readings, nominal_eta_);
      result.rms += fit.rms_residual / circuit.phase_count;
      // A fitted eta is only trusted when the sweep covered a full fringe.
      const bool full_fringe = fit.efficiency_rad_per_mw * plan.max_mw >= kTwoPi;
      if (fit.visibility > 0.01 && full_fringe) {
        result.efficiency_rad_per_mw[j] = fit.efficiency_rad_per_mw;
        result.trusted.push_back(j);
      } else {
        // Coherent cores: a few per core are dark from where the others sit;
        // RecordEfficiencies reports how many, the details are debug output.
        spdlog::log(IsSweptOnly(circuit) ? spdlog::level::debug : spdlog::level::warn,
                    "calibration: heater {} sweep shows no full fringe (visibility {:.4f}, {:.2f} "
                    "rad swept); nominal efficiency kept",
                    circuit.first_phase + j, fit.visibility,
                    fit.efficiency_rad_per_mw * plan.max_mw);
      }
    }
    return result;
  }

  // Every input of the circuit lit, at random amplitudes in [0.5, 1).
  absl::Status LightInputsForSweeps(const photonsim::CircuitLayout& circuit) {
    Eigen::RowVectorXcd pattern(circuit.size);
    std::uniform_real_distribution<double> amplitude(0.5, 1.0);
    for (int i = 0; i < circuit.size; ++i) pattern(i) = amplitude(rng_);
    return SetCircuitInputs(controller_, circuit, pattern);
  }

  // The sweeps feed the design crosstalk forward (see PlanCompensatedSweep);
  // if the chip's budget cannot hold the base powers, each heater sweeps
  // alone.
  SweepPlan PlanSweeps(const photonsim::CircuitLayout& circuit) const {
    const double p_pi_mw = chip_.heater().p_pi_mw();
    SweepPlan plan;
    plan.max_mw = std::min(2.5 * p_pi_mw, max_single_mw_);
    plan.compensation = PlanCompensatedSweep(
        CircuitCrosstalk(circuit, chip_.thermal().crosstalk_nearest()), plan.max_mw);
    // The swept heater holds about base_felt + max; all hold the base.
    const double budget = ConfigurationBudgetMw(controller_);
    double base_total = 0.0;
    for (double p : plan.compensation.base_mw) base_total += p;
    const double room =
        std::min(max_single_mw_ - plan.compensation.base_felt_mw, budget - base_total);
    if (room >= 2.2 * p_pi_mw) {
      plan.max_mw = std::min(plan.max_mw, room);
    } else {
      spdlog::warn("calibration {}: no power left for crosstalk-compensated sweeps", circuit.name);
      plan.compensation = PlanCompensatedSweep(Crosstalk(circuit.phase_count), plan.max_mw);
    }
    plan.powers_mw.resize(options_.sweep_points);
    for (int p = 0; p < options_.sweep_points; ++p) {
      plan.powers_mw[p] = plan.max_mw * p / (options_.sweep_points - 1);
    }
    return plan;
  }

  // Output fractions (one row per sweep point) while heater j of the
  // circuit is swept.
  absl::StatusOr<Eigen::MatrixXd> SweepHeater(const photonsim::CircuitLayout& circuit,
                                              const SweepPlan& plan, int j) {
    const int heater = circuit.first_phase + j;
    Eigen::MatrixXd readings(options_.sweep_points, circuit.output_count);
    std::vector<double> powers(controller_.phase_count(), 0.0);
    for (int p = 0; p < options_.sweep_points; ++p) {
      if (absl::Status s = CheckCancelled(); !s.ok()) return s;
      for (int i = 0; i < circuit.phase_count; ++i) {
        powers[circuit.first_phase + i] = std::max(
            0.0, plan.compensation.base_mw[i] + plan.powers_mw[p] * plan.compensation.per_mw[j][i]);
      }
      if (absl::Status s = controller_.SetHeaterPowers(powers); !s.ok()) return s;
      absl::StatusOr<Eigen::RowVectorXd> row =
          IsSweptOnly(circuit) ? ReadBalanced(controller_, circuit, options_.averages)
                               : ReadFractions(controller_, circuit, options_.averages);
      if (!row.ok()) return row.status();
      readings.row(p) = *row;
      ++measurements_;
      tracker_.Advance(1, "efficiency", heater);
    }
    return readings;
  }

  // --- Stage 2: random configurations through one-hot and paired inputs.
  absl::StatusOr<BiasFitData> ReadRandomConfigurations(const photonsim::CircuitLayout& circuit,
                                                       const std::vector<double>& eta) {
    BiasFitData data;
    data.patterns = InputPatterns(circuit.size);
    data.dependencies = ReadingDependencies(circuit, data.patterns);
    for (int c = 0; c < options_.configurations; ++c) {
      std::vector<double> local = RandomConfigurationMw(circuit, eta);
      std::vector<double> powers(controller_.phase_count(), 0.0);
      for (int j = 0; j < circuit.phase_count; ++j) powers[circuit.first_phase + j] = local[j];
      if (absl::Status s = controller_.SetHeaterPowers(powers); !s.ok()) return s;
      absl::StatusOr<Eigen::MatrixXd> measured = ReadEveryPattern(circuit, data.patterns);
      if (!measured.ok()) return measured.status();
      data.powers_mw.push_back(std::move(local));
      data.measured.push_back(*std::move(measured));
    }
    controller_.DriveToSafeState().IgnoreError();
    return data;
  }

  // Circuit-local powers: each heater uniform over one turn of its phase
  // (at most the single-heater limit), all scaled down together to the
  // configuration budget.
  std::vector<double> RandomConfigurationMw(const photonsim::CircuitLayout& circuit,
                                            const std::vector<double>& eta) {
    std::vector<double> local(circuit.phase_count);
    double total = 0.0;
    for (int j = 0; j < circuit.phase_count; ++j) {
      local[j] = std::min(max_single_mw_,
                          std::uniform_real_distribution<double>(0.0, kTwoPi / eta[j])(rng_));
      total += local[j];
    }
    const double budget = ConfigurationBudgetMw(controller_);
    if (total > budget) {
      for (double& p : local) p *= budget / total;
    }
    return local;
  }

  // Output fractions (one row per input pattern) at the present heater
  // powers.
  absl::StatusOr<Eigen::MatrixXd> ReadEveryPattern(const photonsim::CircuitLayout& circuit,
                                                   const photonsim::MatrixXc& patterns) {
    Eigen::MatrixXd measured(patterns.rows(), circuit.output_count);
    for (Eigen::Index q = 0; q < patterns.rows(); ++q) {
      if (absl::Status s = CheckCancelled(); !s.ok()) return s;
      if (absl::Status s = SetCircuitInputs(controller_, circuit, patterns.row(q)); !s.ok()) {
        return s;
      }
      absl::StatusOr<Eigen::RowVectorXd> row =
          ReadFractions(controller_, circuit, options_.averages);
      if (!row.ok()) return row.status();
      measured.row(q) = *row;
      ++measurements_;
      tracker_.Advance(1, "bias", -1);
    }
    return measured;
  }

  // --- Stage 3: fit biases, then the crosstalk strength, then refine.

  // A Clements mesh gets a structured first estimate, column by column
  // (column_peeling.h): bright readings with one unknown each, where the
  // random-configuration search starts from readings that are dark on large
  // meshes (docs/calibration.md). nullopt for other circuits, with peeling
  // off, or when peeling fails (the search takes over).
  absl::StatusOr<std::optional<std::vector<double>>> PeelBiases(
      const photonsim::CircuitLayout& circuit, const std::vector<double>& eta) {
    if (!options_.column_peeling ||
        circuit.spec.mesh().topology() != photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
      return std::optional<std::vector<double>>();
    }
    PeelOptions peel_options;
    peel_options.averages = options_.averages;
    peel_options.seed = options_.seed + circuit.first_phase;
    absl::StatusOr<std::vector<double>> estimate = PeelMeshBiases(
        controller_, circuit, eta, CircuitCrosstalk(circuit, chip_.thermal().crosstalk_nearest()),
        peel_options, [this] { return CheckCancelled(); }, &measurements_);
    controller_.DriveToSafeState().IgnoreError();
    if (estimate.ok()) return std::optional<std::vector<double>>(*std::move(estimate));
    if (estimate.status().code() == absl::StatusCode::kCancelled) return estimate.status();
    spdlog::warn("calibration {}: column peeling failed ({}); searching instead", circuit.name,
                 estimate.status().ToString());
    return std::optional<std::vector<double>>();
  }

  // What stage 3 fits one circuit with.
  struct FitInputs {
    const photonsim::CircuitLayout& circuit;
    const BiasFitData& data;
    photonsim::LinearCircuit& model;  // the circuit's ideal model
    double progress_units;            // the whole fit's share of the progress bar
  };

  // A fit that ends far above the noise (a wrong basin) is tried again from
  // other random starts, up to kAttempts times; the best is kept. The first
  // attempt starts from `peeled` if there is one.
  CircuitFit FitBiasesAndCrosstalk(const photonsim::CircuitLayout& circuit, const BiasFitData& data,
                                   const std::vector<double>& eta,
                                   const std::optional<std::vector<double>>& peeled) {
    constexpr int kAttempts = 6;
    constexpr double kAcceptableRms = 0.03;
    std::unique_ptr<photonsim::LinearCircuit> model = photonsim::MakeIdealLinearCircuit(circuit);
    const FitInputs fit{circuit, data, *model, 9.0 * PlannedReadings(circuit, options_)};
    CircuitFit best;
    for (int attempt = 0; attempt < kAttempts && !(best.rms < kAcceptableRms); ++attempt) {
      BiasFitResult start;
      if (attempt == 0 && peeled) {
        start.bias_rad = *peeled;
        start.efficiency_rad_per_mw = eta;
      } else {
        start = SearchBiases(fit, eta, attempt);
      }
      CircuitFit found = FitCrosstalkStrength(fit, start);
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
    return best;
  }

  // The search runs without crosstalk: with the design's crosstalk assumed
  // it ended in a wrong basin in our runs. Its strength is fitted next
  // (FitCrosstalkStrength).
  BiasFitResult SearchBiases(const FitInputs& fit, const std::vector<double>& eta, int attempt) {
    BiasFitOptions fit_options;
    fit_options.seed = options_.seed + fit.circuit.first_phase + 7919 * attempt;
    fit_options.restarts = options_.max_restarts;
    fit_options.circuit = &fit.circuit;
    fit_options.good_enough_rms = 0.02;
    int placed_before = 0;
    fit_options.on_progress = [&](int placed, int phases, double) {
      // Retries are extra work: the bar slows, it does not run past 100 %.
      const double share = attempt == 0 ? 0.85 : 0.0;
      tracker_.Advance(share * fit.progress_units * (placed - placed_before) / phases, "bias fit",
                       -1);
      placed_before = placed;
    };
    return FitPhaseBiases(fit.model, fit.data, eta, Crosstalk(fit.circuit.phase_count),
                          fit_options);
  }

  // For each candidate strength, biases and efficiencies are refined
  // jointly (Levenberg-Marquardt) and the best fit wins: a coarse scan, a
  // finer one around the winner, then a longer refinement.
  CircuitFit FitCrosstalkStrength(const FitInputs& fit, const BiasFitResult& start) {
    CircuitFit found = RefineAt(fit, 0.0, start.bias_rad, start.efficiency_rad_per_mw, 4);
    for (double nearest : {0.01, 0.02, 0.03, 0.04, 0.06, 0.08}) {
      CircuitFit c = RefineAt(fit, nearest, found.bias_rad, found.efficiency_rad_per_mw, 4);
      if (c.rms < found.rms) found = std::move(c);
    }
    for (double delta : {-0.005, 0.005, -0.0025, 0.0025}) {
      if (found.nearest + delta < 0.0) continue;
      CircuitFit c =
          RefineAt(fit, found.nearest + delta, found.bias_rad, found.efficiency_rad_per_mw, 4);
      if (c.rms < found.rms) found = std::move(c);
    }
    return RefineAt(fit, found.nearest, found.bias_rad, found.efficiency_rad_per_mw, 10);
  }

  // Biases and efficiencies refined from the given start with the crosstalk
  // strength held at `nearest`.
  CircuitFit RefineAt(const FitInputs& fit, double nearest, const std::vector<double>& bias_rad,
                      const std::vector<double>& efficiency_rad_per_mw, int iterations) {
    CircuitFit refined{nearest, bias_rad, efficiency_rad_per_mw, 0.0};
    refined.rms = RefineBiasesAndEfficiencies(fit.model, fit.data, refined.bias_rad,
                                              refined.efficiency_rad_per_mw,
                                              CircuitCrosstalk(fit.circuit, nearest), iterations);
    tracker_.Advance(0.15 * fit.progress_units / 12, "crosstalk", -1);
    return refined;
  }

  // --- The chip-wide result.

  // Efficiencies only (biases stay nominal, not fitted).
  void RecordEfficiencies(const photonsim::CircuitLayout& circuit, const EfficiencyFit& fit) {
    for (int j : fit.trusted) {
      efficiency_rad_per_mw_[circuit.first_phase + j] = fit.efficiency_rad_per_mw[j];
      efficiency_fitted_[circuit.first_phase + j] = true;
    }
    swept_rms_sum_ += fit.rms;
    ++swept_circuits_;
    spdlog::info("calibrated {}: efficiencies of {}/{} heaters, sweep fit rms {:.4f}", circuit.name,
                 fit.trusted.size(), circuit.phase_count, fit.rms);
  }

  void Record(const photonsim::CircuitLayout& circuit, double efficiency_rms,
              const CircuitFit& fit) {
    for (int j = 0; j < circuit.phase_count; ++j) {
      bias_rad_[circuit.first_phase + j] = fit.bias_rad[j];
      efficiency_rad_per_mw_[circuit.first_phase + j] = fit.efficiency_rad_per_mw[j];
      fitted_[circuit.first_phase + j] = true;
      efficiency_fitted_[circuit.first_phase + j] = true;
    }
    efficiency_rms_sum_ += efficiency_rms;
    bias_rms_sum_ += fit.rms;
    nearest_sum_ += fit.nearest;
    ++fitted_circuits_;
    spdlog::info("calibrated {}: efficiency fit rms {:.4f}, bias fit rms {:.4f}, crosstalk {:.4f}",
                 circuit.name, efficiency_rms, fit.rms, fit.nearest);
  }

  photonic::v1::PhaseCalibration Summary() const {
    photonic::v1::PhaseCalibration calibration;
    calibration.set_format_version(1);
    calibration.set_chip_name(chip_.name());
    calibration.set_created_at(
        absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));
    calibration.mutable_phase_bias_rad()->Assign(bias_rad_.begin(), bias_rad_.end());
    calibration.mutable_efficiency_rad_per_mw()->Assign(efficiency_rad_per_mw_.begin(),
                                                        efficiency_rad_per_mw_.end());
    for (bool f : fitted_) calibration.add_fitted(f);
    for (bool f : efficiency_fitted_) calibration.add_efficiency_fitted(f);
    const int circuits = std::max(1, fitted_circuits_);
    // Only coherent SVD cores swept: the design's crosstalk, fed forward by
    // the phase model, so that a phase moves alone when it is programmed.
    calibration.set_crosstalk_nearest(fitted_circuits_ == 0 && swept_circuits_ > 0
                                          ? chip_.thermal().crosstalk_nearest()
                                          : nearest_sum_ / circuits);
    calibration.set_crosstalk_decay_pitch(decay_pitch_);
    calibration.set_crosstalk_cutoff_pitch(cutoff_pitch_);
    calibration.set_efficiency_fit_rms((efficiency_rms_sum_ + swept_rms_sum_) /
                                       std::max(1, fitted_circuits_ + swept_circuits_));
    calibration.set_bias_fit_rms(bias_rms_sum_ / circuits);
    calibration.set_measurements(measurements_);
    calibration.set_chip_seconds(
        std::chrono::duration<double>(controller_.ChipTime() - chip_start_).count());
    calibration.set_wall_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count());
    return calibration;
  }

  absl::StatusOr<photonic::v1::PhaseCalibration> InstallResult() {
    photonic::v1::PhaseCalibration calibration = Summary();
    if (absl::StatusOr<TemperatureReading> t = controller_.ReadTemperature(); t.ok()) {
      calibration.set_temperature_c(t->temperature_c);
    }
    absl::StatusOr<HeaterPhaseModel> model = HeaterPhaseModel::FromCalibration(chip_, calibration);
    if (!model.ok()) return model.status();
    // A cancel that arrived during the fit still wins: nothing is installed.
    if (absl::Status s = CheckCancelled(); !s.ok()) return s;
    controller_.DriveToSafeState().IgnoreError();
    controller_.InstallPhaseModel(*std::move(model));
    tracker_.Advance(0, "done", -1);
    return calibration;
  }

  ChipController& controller_;
  const CalibrationOptions& options_;
  const std::atomic<bool>* cancelled_;
  const photonic::v1::ChipDescription& chip_;
  const std::chrono::steady_clock::time_point wall_start_;
  const std::chrono::nanoseconds chip_start_;
  const double nominal_eta_;  // rad/mW, from the description's P_pi
  const double decay_pitch_;
  const double cutoff_pitch_;
  const double max_single_mw_;
  ProgressTracker tracker_;
  std::mt19937_64 rng_;
  int measurements_ = 0;
  // The result, per phase of the chip; the fit quality summed per circuit.
  std::vector<double> bias_rad_;
  std::vector<double> efficiency_rad_per_mw_;
  std::vector<bool> fitted_;
  std::vector<bool> efficiency_fitted_;
  double efficiency_rms_sum_ = 0.0;
  double swept_rms_sum_ = 0.0;  // circuits with efficiencies only
  int swept_circuits_ = 0;
  double bias_rms_sum_ = 0.0;
  double nearest_sum_ = 0.0;
  int fitted_circuits_ = 0;
};

}  // namespace

absl::StatusOr<photonic::v1::PhaseCalibration> RunCalibration(ChipController& controller,
                                                              const CalibrationOptions& options,
                                                              const CalibrationProgressFn& progress,
                                                              const std::atomic<bool>* cancelled) {
  if (const int trimmed = controller.chip().trimmed_phases_size(); trimmed > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "chip \"", controller.chip().name(), "\" has ", trimmed,
        " trimmed (passive) phase shifters; calibrating such a chip is not supported"));
  }
  absl::StatusOr<photonic::v1::PhaseCalibration> result =
      CalibrationRun(controller, options, progress, cancelled).Run();
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
