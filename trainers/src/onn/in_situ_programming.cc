#include "phc/trainers/onn/in_situ_programming.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core_fit.h"
#include "phc/trainers/onn/svd_core.h"
#include "photonsim/phase.h"

namespace phc::trainers::onn {

using core_fit::CoreTarget;
using core_fit::Measurement;

namespace {
constexpr double kTwoPi = 2.0 * std::numbers::pi;
}  // namespace

absl::Status ValidateInSituProgrammingOptions(const InSituProgrammingOptions& options) {
  if (options.sweeps < 0 || options.sweeps > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweeps must be in [0, 100]; got ", options.sweeps));
  }
  if (options.refinements < 0 || options.refinements > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("refinements must be in [0, 100]; got ", options.refinements));
  }
  if (!(options.shift_rad >= 0.01 && options.shift_rad <= std::numbers::pi / 2.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shift_rad must be in [0.01, pi / 2]; got ", options.shift_rad));
  }
  if (!(options.max_gain_factor >= 1.0 && options.max_gain_factor <= 100.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_gain_factor must be in [1, 100]; got ", options.max_gain_factor));
  }
  return absl::OkStatus();
}

struct InSituProgrammer::State {
  enum class Stage { kStart, kSweep, kJacobian, kRefine, kDone };

  InSituProgrammingOptions options;
  std::vector<CoreTarget> cores;
  int k = 0;
  int per_core = 0;
  Stage stage = Stage::kStart;
  int sweep = 0, refinement = 0, phase = 0;
  InSituProgrammingResult result;
  std::vector<Eigen::VectorXd> gains;
  std::optional<Measurement> measured;  // at result.phases_rad, after each sweep / refinement
  double mean_residual = 0.0;
  std::vector<double> damping;
  std::vector<Eigen::MatrixXd> derivatives;  // per core: (rows * cols) x per_core

  double& Phase(std::size_t core, int p) { return result.phases_rad[cores[core].first_phase + p]; }
  void SetPhaseOfEveryCore(int p, const std::vector<double>& values) {
    for (std::size_t c = 0; c < cores.size(); ++c) Phase(c, p) = photonsim::WrapPhase(values[c]);
  }

  absl::Status Write(ChipOracle& oracle) {
    ++result.phase_writes;
    return oracle.SetPhases(result.phases_rad);
  }
  // A write the chip may refuse (FAILED_PRECONDITION: a phase it cannot
  // reach with non-negative heater powers under its crosstalk, or a power
  // limit): false then, and the chip is as it was. Other errors stay errors.
  absl::StatusOr<bool> TryWrite(ChipOracle& oracle) {
    absl::Status status = Write(oracle);
    if (absl::IsFailedPrecondition(status)) {
      ++result.refused_writes;
      return false;
    }
    if (!status.ok()) return status;
    return true;
  }
  absl::StatusOr<Measurement> Measure(ChipOracle& oracle) {
    return core_fit::MeasureCores(oracle, cores, k, result.queries);
  }

  // After the start, a sweep or a refinement: the next stage.
  void Advance() {
    if (sweep < options.sweeps) {
      stage = Stage::kSweep;
    } else if (refinement < options.refinements) {
      stage = Stage::kJacobian;
      derivatives.clear();
      for (const CoreTarget& core : cores) {
        derivatives.push_back(Eigen::MatrixXd::Zero(core.rows * core.cols, per_core));
      }
    } else {
      stage = Stage::kDone;
    }
    phase = 0;
  }

  absl::Status Start(ChipOracle& oracle) {
    if (absl::Status s = Write(oracle); !s.ok()) return s;
    absl::StatusOr<Measurement> at = Measure(oracle);
    if (!at.ok()) return at.status();
    measured = *std::move(at);
    mean_residual = core_fit::Residuals(*measured, cores, gains, result.initial_residual);
    result.final_residual = result.initial_residual;
    Advance();
    return absl::OkStatus();
  }

  // One phase of a coordinate sweep: three settings 2 pi / 3 apart, then the
  // best value of that phase for every core (receivers held nominal).
  absl::Status SweepPhase(ChipOracle& oracle) {
    std::vector<double> base(cores.size());
    for (std::size_t c = 0; c < cores.size(); ++c) base[c] = Phase(c, phase);
    std::array<std::vector<Eigen::MatrixXd>, 3> curves;
    bool refused = false;
    for (int m = 0; m < 3 && !refused; ++m) {
      if (m > 0) {
        std::vector<double> shifted = base;
        for (double& value : shifted) value += kTwoPi * m / 3.0;
        SetPhaseOfEveryCore(phase, shifted);
        absl::StatusOr<bool> written = TryWrite(oracle);
        if (!written.ok()) return written.status();
        refused = !*written;
        if (refused) break;
      }
      absl::StatusOr<Measurement> at = Measure(oracle);
      if (!at.ok()) return at.status();
      curves[m] = std::move(at->matrices);
    }
    if (!refused) {
      for (std::size_t c = 0; c < cores.size(); ++c) {
        Phase(c, phase) = core_fit::BestSinglePhase({&curves[0][c], &curves[1][c], &curves[2][c]},
                                                    base[c], gains[c], cores[c]);
      }
      absl::StatusOr<bool> written = TryWrite(oracle);
      if (!written.ok()) return written.status();
      refused = !*written;
    }
    if (refused) {
      // This phase keeps its value this sweep; back to what was written.
      SetPhaseOfEveryCore(phase, base);
      if (absl::Status s = Write(oracle); !s.ok()) return s;
    }
    if (++phase < per_core) return absl::OkStatus();
    absl::StatusOr<Measurement> at = Measure(oracle);
    if (!at.ok()) return at.status();
    measured = *std::move(at);
    mean_residual = core_fit::Residuals(*measured, cores, gains, result.final_residual);
    ++sweep;
    Advance();
    return absl::OkStatus();
  }

  // One column of every core's Jacobian: the phase shifted by +-shift
  // (exact for a sinusoid: dR = (R(+) - R(-)) / (2 sin shift)).
  absl::Status JacobianColumn(ChipOracle& oracle) {
    std::vector<double> base(cores.size());
    for (std::size_t c = 0; c < cores.size(); ++c) base[c] = Phase(c, phase);
    std::array<std::vector<Eigen::MatrixXd>, 2> shifted;
    for (int side = 0; side < 2; ++side) {
      std::vector<double> moved = base;
      for (double& value : moved) value += side == 0 ? options.shift_rad : -options.shift_rad;
      SetPhaseOfEveryCore(phase, moved);
      absl::StatusOr<bool> written = TryWrite(oracle);
      if (!written.ok()) return written.status();
      if (!*written) {
        // No column this time: the step leaves this phase where it is.
        SetPhaseOfEveryCore(phase, base);
        if (++phase == per_core) stage = Stage::kRefine;
        return absl::OkStatus();
      }
      absl::StatusOr<Measurement> at = Measure(oracle);
      if (!at.ok()) return at.status();
      shifted[side] = std::move(at->matrices);
    }
    SetPhaseOfEveryCore(phase, base);  // written with the next column or the step
    const double scale = 1.0 / (2.0 * std::sin(options.shift_rad));
    for (std::size_t c = 0; c < cores.size(); ++c) {
      const Eigen::MatrixXd d = (shifted[0][c] - shifted[1][c]) * scale;
      for (int i = 0; i < cores[c].rows; ++i) {
        for (int j = 0; j < cores[c].cols; ++j) {
          derivatives[c](i * cores[c].cols + j, phase) = d(i, j);
        }
      }
    }
    if (++phase == per_core) stage = Stage::kRefine;
    return absl::OkStatus();
  }

  // A Levenberg-Marquardt step on every core at once; a core whose
  // objective did not fall takes its step back and raises its damping.
  absl::Status Refine(ChipOracle& oracle) {
    std::vector<std::vector<double>> phases_before(cores.size());
    const std::vector<Eigen::VectorXd> gains_before = gains;
    for (std::size_t c = 0; c < cores.size(); ++c) {
      const CoreTarget& core = cores[c];
      const Eigen::VectorXd delta = core_fit::LevenbergMarquardtStep(
          measured->matrices[c], derivatives[c], gains[c], core, damping[c]);
      for (int p = 0; p < per_core; ++p) {
        phases_before[c].push_back(Phase(c, p));
        Phase(c, p) = photonsim::WrapPhase(Phase(c, p) + delta(p));
      }
      for (int i = 0; i < core.rows; ++i) {
        gains[c](i) = std::clamp(gains[c](i) + delta(per_core + i),
                                 core.nominal_gain / options.max_gain_factor,
                                 core.nominal_gain * options.max_gain_factor);
      }
    }
    bool finite = true;
    for (std::size_t c = 0; c < cores.size(); ++c) {
      for (int p = 0; p < per_core; ++p) finite = finite && std::isfinite(Phase(c, p));
    }
    // A non-finite step (a degenerate Jacobian) is never sent to the chip.
    absl::StatusOr<bool> written = finite ? TryWrite(oracle) : absl::StatusOr<bool>(false);
    if (!written.ok()) return written.status();
    if (!*written) {
      // The chip cannot take the step: every core takes it back, damped more.
      for (std::size_t c = 0; c < cores.size(); ++c) {
        for (int p = 0; p < per_core; ++p) Phase(c, p) = phases_before[c][p];
        damping[c] = std::min(damping[c] * 4.0, 1e3);
      }
      gains = gains_before;
      if (absl::Status s = Write(oracle); !s.ok()) return s;
      ++refinement;
      Advance();
      return absl::OkStatus();
    }
    absl::StatusOr<Measurement> after = Measure(oracle);
    if (!after.ok()) return after.status();
    bool reverted = false;
    for (std::size_t c = 0; c < cores.size(); ++c) {
      if (core_fit::Objective(after->matrices[c], gains[c], cores[c]) <
          core_fit::Objective(measured->matrices[c], gains_before[c], cores[c])) {
        damping[c] = std::max(damping[c] / 3.0, 1e-7);
        continue;
      }
      damping[c] = std::min(damping[c] * 4.0, 1e3);
      for (int p = 0; p < per_core; ++p) Phase(c, p) = phases_before[c][p];
      gains[c] = gains_before[c];
      reverted = true;
    }
    if (reverted) {
      absl::StatusOr<bool> mixed = TryWrite(oracle);
      if (!mixed.ok()) return mixed.status();
      if (*mixed) {
        after = Measure(oracle);
        if (!after.ok()) return after.status();
      } else {
        // The mix of stepped and reverted cores is refused: all go back.
        for (std::size_t c = 0; c < cores.size(); ++c) {
          for (int p = 0; p < per_core; ++p) Phase(c, p) = phases_before[c][p];
        }
        gains = gains_before;
        if (absl::Status s = Write(oracle); !s.ok()) return s;
        after = *measured;  // taken at these phases
      }
    }
    measured = *std::move(after);
    mean_residual = core_fit::Residuals(*measured, cores, gains, result.final_residual);
    ++refinement;
    Advance();
    return absl::OkStatus();
  }
};

absl::StatusOr<InSituProgrammer> InSituProgrammer::Create(Model& model,
                                                          const ChipPlacement& placement,
                                                          const photonsim::ChipLayout& layout,
                                                          std::span<const double> start_phases,
                                                          const InSituProgrammingOptions& options) {
  if (absl::Status valid = ValidateInSituProgrammingOptions(options); !valid.ok()) return valid;
  if (static_cast<int>(start_phases.size()) != layout.phase_count) {
    return absl::InvalidArgumentError(absl::StrCat("start phases have ", start_phases.size(),
                                                   " values; the chip has ", layout.phase_count));
  }
  auto state = std::make_unique<State>();
  state->options = options;
  state->options.progress = nullptr;
  state->cores = core_fit::CoreTargets(model, placement, layout);
  state->k = static_cast<int>(model.spec().core_size());
  state->per_core = SvdCore::PhaseCount(state->k);
  state->result.phases_rad.assign(start_phases.begin(), start_phases.end());
  for (double& phase : state->result.phases_rad) phase = photonsim::WrapPhase(phase);
  for (const CoreTarget& core : state->cores) {
    state->gains.push_back(Eigen::VectorXd::Constant(core.rows, core.nominal_gain));
  }
  state->damping.assign(state->cores.size(), 1e-3);
  state->result.output_gain_per_mw.assign(layout.output_count, 0.0);
  return InSituProgrammer(std::move(state));
}

InSituProgrammer::InSituProgrammer(std::unique_ptr<State> state) : state_(std::move(state)) {}
InSituProgrammer::InSituProgrammer(InSituProgrammer&&) noexcept = default;
InSituProgrammer& InSituProgrammer::operator=(InSituProgrammer&&) noexcept = default;
InSituProgrammer::~InSituProgrammer() = default;

absl::StatusOr<bool> InSituProgrammer::Step(ChipOracle& oracle) {
  State& s = *state_;
  absl::Status status;
  switch (s.stage) {
    case State::Stage::kStart:
      status = s.Start(oracle);
      break;
    case State::Stage::kSweep:
      status = s.SweepPhase(oracle);
      break;
    case State::Stage::kJacobian:
      status = s.JacobianColumn(oracle);
      break;
    case State::Stage::kRefine:
      status = s.Refine(oracle);
      break;
    case State::Stage::kDone:
      break;
  }
  if (!status.ok()) return status;
  return done();
}

bool InSituProgrammer::done() const { return state_->stage == State::Stage::kDone; }
int InSituProgrammer::completed() const { return state_->sweep + state_->refinement; }
int InSituProgrammer::total() const { return state_->options.sweeps + state_->options.refinements; }
double InSituProgrammer::fraction() const {
  if (done()) return 1.0;
  return static_cast<double>(state_->phase) / (state_->per_core + 1);
}
double InSituProgrammer::mean_residual() const { return state_->mean_residual; }

InSituProgrammingResult InSituProgrammer::result() const {
  InSituProgrammingResult result = state_->result;
  result.sweeps = state_->sweep;
  result.refinements = state_->refinement;
  if (state_->measured.has_value()) result.output_offset_mw = state_->measured->dark_mw;
  for (std::size_t c = 0; c < state_->cores.size(); ++c) {
    for (int i = 0; i < state_->cores[c].rows; ++i) {
      result.output_gain_per_mw[state_->cores[c].first_output + i] = state_->gains[c](i);
    }
  }
  return result;
}

absl::StatusOr<InSituProgrammingResult> ProgramCoresInSitu(
    Model& model, const ChipPlacement& placement, ChipOracle& oracle,
    std::span<const double> start_phases, const InSituProgrammingOptions& options) {
  absl::StatusOr<InSituProgrammer> programmer =
      InSituProgrammer::Create(model, placement, oracle.layout(), start_phases, options);
  if (!programmer.ok()) return programmer.status();
  int reported = 0;
  while (!programmer->done()) {
    absl::StatusOr<bool> step = programmer->Step(oracle);
    if (!step.ok()) return step.status();
    if (programmer->completed() > reported) {
      reported = programmer->completed();
      if (options.progress &&
          !options.progress(reported, programmer->total(), programmer->mean_residual())) {
        break;
      }
    }
  }
  return programmer->result();
}

void ApplyReceiverCalibration(const InSituProgrammingResult& result, ChipPlacement& placement) {
  placement.output_offset_mw = result.output_offset_mw;
  placement.output_gain_per_mw = result.output_gain_per_mw;
}

}  // namespace phc::trainers::onn
