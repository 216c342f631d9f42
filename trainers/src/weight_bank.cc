#include "phc/trainers/weight_bank.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace phc::trainers {

const photonic::v1::MicroringBankCircuit* SingleWeightBank(const photonsim::ChipLayout& layout) {
  if (layout.circuits.size() != 1 ||
      layout.circuits[0].kind != photonsim::CircuitKind::kMicroringBank) {
    return nullptr;
  }
  return &layout.circuits[0].spec.microring_bank();
}

double RingBranch::min_weight() const { return *std::ranges::min_element(weights); }
double RingBranch::max_weight() const { return *std::ranges::max_element(weights); }

double RingBranch::PowerFor(double weight) const {
  const bool rising = weights.back() >= weights.front();
  const double w = std::clamp(weight, min_weight(), max_weight());
  for (std::size_t t = 0; t + 1 < weights.size(); ++t) {
    const double lo = weights[t], hi = weights[t + 1];
    const bool inside = rising ? (w >= lo && w <= hi) : (w <= lo && w >= hi);
    if (!inside) continue;
    const double span = hi - lo;
    const double f = span == 0.0 ? 0.0 : (w - lo) / span;
    return powers_mw[t] + f * (powers_mw[t + 1] - powers_mw[t]);
  }
  return (rising == (w >= weights.back())) ? powers_mw.back() : powers_mw.front();
}

namespace {

std::vector<double> UnitVector(int size, int k) {
  std::vector<double> v(size, 0.0);
  v[k] = 1.0;
  return v;
}

// The far side of a sweep's resonance (from the peak on, heater power
// increasing, weight falling), made monotone by a running minimum (noise can
// only flatten it). The far side, because thermal crosstalk from
// neighbouring rings only adds heat: it moves a ring further along this
// branch, never across its resonance, so a measured weight always maps back
// to the ring's effective power. The near side only when the sweep ends on
// the resonance.
RingBranch BranchOfSweep(std::span<const double> powers, std::span<const double> weights) {
  const int n = static_cast<int>(weights.size());
  const int peak = static_cast<int>(std::ranges::max_element(weights) - weights.begin());
  RingBranch branch;
  if (peak + 1 < n) {
    double running = 1e300;
    for (int t = peak; t < n; ++t) {
      running = std::min(running, weights[t]);
      branch.powers_mw.push_back(powers[t]);
      branch.weights.push_back(running);
    }
  } else {
    double running = -1e300;
    for (int t = 0; t < n; ++t) {
      running = std::max(running, weights[t]);
      branch.powers_mw.push_back(powers[t]);
      branch.weights.push_back(running);
    }
  }
  return branch;
}

absl::StatusOr<Eigen::VectorXd> ReadLit(WeightBankDevice& device, int channel, int averages) {
  return device.Read(UnitVector(device.channels(), channel), averages);
}

}  // namespace

absl::StatusOr<BankCalibration> CalibrateWeightBank(WeightBankDevice& device,
                                                    const BankCalibrationOptions& options,
                                                    const BankProgress& progress) {
  if (options.sweep_steps < 4 || !(options.sweep_max_power_mw > 0.0) || options.averages < 1) {
    return absl::InvalidArgumentError(
        "weight bank calibration needs sweep_steps >= 4, sweep_max_power_mw > 0, averages >= 1");
  }
  const int channels = device.channels(), rows = device.rows();
  BankCalibration cal;
  cal.channels = channels;
  cal.rows = rows;
  std::vector<double> powers(static_cast<std::size_t>(rows) * channels, 0.0);
  if (absl::Status s = device.SetRingPowers(powers); !s.ok()) return s;

  // Row scales: every ring parked at zero power, one channel lit at a time.
  Eigen::MatrixXd parked(rows, channels);
  for (int k = 0; k < channels; ++k) {
    absl::StatusOr<Eigen::VectorXd> current = ReadLit(device, k, options.averages);
    if (!current.ok()) return current.status();
    parked.col(k) = *current;
    ++cal.readings;
  }
  cal.row_scale_ua = -parked.rowwise().mean();
  for (int i = 0; i < rows; ++i) {
    if (!(cal.row_scale_ua[i] > 0.0)) {
      return absl::FailedPreconditionError(
          absl::StrCat("weight bank row ", i, ": no through-port light with the rings parked (",
                       cal.row_scale_ua[i], " uA); check the laser and the balanced detector"));
    }
  }

  // Sweep one ring of every row at a time (column j, channel j lit).
  std::vector<double> sweep_powers(options.sweep_steps + 1);
  for (int s = 0; s <= options.sweep_steps; ++s) {
    sweep_powers[s] = options.sweep_max_power_mw * s / options.sweep_steps;
  }
  cal.rings.resize(powers.size());
  Eigen::MatrixXd sweep(rows, options.sweep_steps + 1);
  for (int j = 0; j < channels; ++j) {
    for (int s = 0; s <= options.sweep_steps; ++s) {
      for (int i = 0; i < rows; ++i)
        powers[static_cast<std::size_t>(i) * channels + j] = sweep_powers[s];
      if (absl::Status st = device.SetRingPowers(powers); !st.ok()) return st;
      absl::StatusOr<Eigen::VectorXd> current = ReadLit(device, j, options.averages);
      if (!current.ok()) return current.status();
      sweep.col(s) = current->cwiseQuotient(cal.row_scale_ua);
      ++cal.readings;
    }
    for (int i = 0; i < rows; ++i) {
      powers[static_cast<std::size_t>(i) * channels + j] = 0.0;
      const Eigen::VectorXd row = sweep.row(i).transpose();
      cal.rings[static_cast<std::size_t>(i) * channels + j] =
          BranchOfSweep(sweep_powers, std::span<const double>(row.data(), row.size()));
    }
    if (progress) progress(static_cast<double>(j + 1) / channels);
  }
  if (absl::Status s = device.SetRingPowers(powers); !s.ok()) return s;
  return cal;
}

absl::StatusOr<Eigen::MatrixXd> MeasureWeights(WeightBankDevice& device,
                                               const BankCalibration& calibration, int averages) {
  Eigen::MatrixXd weights(calibration.rows, calibration.channels);
  for (int k = 0; k < calibration.channels; ++k) {
    absl::StatusOr<Eigen::VectorXd> current = ReadLit(device, k, averages);
    if (!current.ok()) return current.status();
    weights.col(k) = current->cwiseQuotient(calibration.row_scale_ua);
  }
  return weights;
}

namespace {

constexpr double kSettleWeight = -0.5;
constexpr int kSettleRounds = 12;
constexpr double kCrosstalkCapSlackMw = 0.2;

// `rounds` rounds of: set powers = branch power of the goal minus the
// crosstalk estimate, measure, update the estimate (by at most max_step_mw).
// Leaves the last set powers and measurement in `report`.
absl::Status CorrectCrosstalk(WeightBankDevice& device, const BankCalibration& calibration,
                              const Eigen::MatrixXd& goal, int rounds, double max_step_mw,
                              int averages, std::vector<double>& crosstalk_mw,
                              ProgramReport& report) {
  const std::size_t ring_count = calibration.rings.size();
  report.powers_mw.resize(ring_count);
  std::vector<double> goal_power(ring_count);
  for (int i = 0; i < calibration.rows; ++i) {
    for (int k = 0; k < calibration.channels; ++k) {
      const std::size_t r = static_cast<std::size_t>(i) * calibration.channels + k;
      goal_power[r] = calibration.rings[r].PowerFor(goal(i, k));
    }
  }
  for (int round = 0;; ++round) {
    for (std::size_t r = 0; r < ring_count; ++r) {
      report.powers_mw[r] =
          std::clamp(goal_power[r] - crosstalk_mw[r], 0.0, calibration.rings[r].powers_mw.back());
    }
    if (absl::Status s = device.SetRingPowers(report.powers_mw); !s.ok()) return s;
    absl::StatusOr<Eigen::MatrixXd> measured = MeasureWeights(device, calibration, averages);
    if (!measured.ok()) return measured.status();
    report.achieved = *std::move(measured);
    const Eigen::MatrixXd error = report.achieved - goal;
    report.rms_error = std::sqrt(error.squaredNorm() / static_cast<double>(error.size()));
    report.max_error = error.cwiseAbs().maxCoeff();
    report.iterations = round;
    if (round == rounds) return absl::OkStatus();
    for (int i = 0; i < calibration.rows; ++i) {
      for (int k = 0; k < calibration.channels; ++k) {
        const std::size_t r = static_cast<std::size_t>(i) * calibration.channels + k;
        const double estimate =
            calibration.rings[r].PowerFor(report.achieved(i, k)) - report.powers_mw[r];
        crosstalk_mw[r] += std::clamp(estimate - crosstalk_mw[r], -max_step_mw, max_step_mw);
      }
    }
    // Neighbours heat every ring alike, within a factor: an estimate far
    // above the typical one comes from a ring pulled across its resonance,
    // whose reading its branch misreads. Cap it.
    std::vector<double> sorted = crosstalk_mw;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const double cap = 2.0 * std::max(0.0, sorted[sorted.size() / 2]) + kCrosstalkCapSlackMw;
    for (double& x : crosstalk_mw) x = std::min(x, cap);
  }
}

}  // namespace

absl::StatusOr<ProgramReport> ProgramWeights(WeightBankDevice& device,
                                             const BankCalibration& calibration,
                                             const Eigen::MatrixXd& targets, int iterations,
                                             int averages) {
  if (targets.rows() != calibration.rows || targets.cols() != calibration.channels) {
    return absl::InvalidArgumentError(absl::StrCat("weight targets are ", targets.rows(), "x",
                                                   targets.cols(), "; the bank is ",
                                                   calibration.rows, "x", calibration.channels));
  }
  if (!targets.allFinite()) return absl::InvalidArgumentError("weight targets must be finite");
  if (iterations < 0 || iterations > 1000 || averages < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight programming needs iterations in [0, 1000]", " and averages >= 1 (got ",
                     iterations, ", ", averages, ")"));
  }
  ProgramReport report;
  // Each ring's crosstalk heat, as the extra own power it is worth: the
  // difference between the power its measured weight means on its branch
  // and the power it is given. A fixed point: crosstalk is a fraction of
  // the neighbours' powers, well below one. Estimated first with every ring
  // at a weight well down its branch (far from the narrow resonance peak,
  // where an error cannot carry a ring across it), then at the targets; in
  // steps limited per round, because every ring's neighbours move in the
  // same round and a reading in a branch's flat tail says little.
  std::vector<double> crosstalk_mw(calibration.rings.size(), 0.0);
  const Eigen::MatrixXd settle_targets =
      Eigen::MatrixXd::Constant(targets.rows(), targets.cols(), kSettleWeight);
  for (const auto& [goal, rounds, max_step] :
       {std::tuple{&settle_targets, kSettleRounds, 0.2}, std::tuple{&targets, iterations, 0.05}}) {
    absl::Status s = CorrectCrosstalk(device, calibration, *goal, rounds, max_step, averages,
                                      crosstalk_mw, report);
    if (!s.ok()) return s;
  }
  return report;
}

absl::StatusOr<Eigen::VectorXd> MultiplySigned(WeightBankDevice& device,
                                               const BankCalibration& calibration,
                                               std::span<const double> x) {
  if (static_cast<int>(x.size()) != calibration.channels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input has ", x.size(), " entries; the bank has ", calibration.channels, " channels"));
  }
  double scale = 0.0;
  for (double v : x) scale = std::max(scale, std::abs(v));
  if (!std::isfinite(scale)) return absl::InvalidArgumentError("input must be finite");
  Eigen::VectorXd out = Eigen::VectorXd::Zero(calibration.rows);
  if (scale == 0.0) return out;
  std::vector<double> part(x.size());
  for (double sign : {1.0, -1.0}) {
    bool any = false;
    for (std::size_t k = 0; k < x.size(); ++k) {
      part[k] = std::max(0.0, sign * x[k] / scale);
      any = any || part[k] > 0.0;
    }
    if (!any) continue;
    absl::StatusOr<Eigen::VectorXd> current = device.Read(part, 1);
    if (!current.ok()) return current.status();
    out += sign * current->cwiseQuotient(calibration.row_scale_ua);
  }
  return out * scale;
}

}  // namespace phc::trainers
