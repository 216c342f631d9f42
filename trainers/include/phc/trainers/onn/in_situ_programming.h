// Programming a model's cores against the chip's own readings (closed loop).
//
// A fabricated chip realises different matrices than its ideal model for the
// same phases: unknown phase biases, heater efficiency and resistance spread,
// thermal crosstalk, lossy and unbalanced optics, receivers with their own
// gains and offsets. Rather than fitting a model of all of that, this
// programs each core directly by what it measures, the way a lab tunes an
// interferometer by hand, only for every phase in turn:
//   * a core's balanced readings are linear in its inputs, so one query per
//     unit input (all cores at once, each on its own inputs) and one with all
//     inputs dark measure every core's real matrix Re(M) and its receivers'
//     offsets;
//   * every reading is a first-order trigonometric polynomial
//     a + b cos(phi) + c sin(phi) in any one phase (the field is linear in
//     e^{i phi}), so three settings of one phase, 2 pi / 3 apart, give each
//     reading's whole curve and the squared error against the target is
//     minimised over that phase exactly (a grid, then golden section);
//   * the phases are visited in turn, the same phase of every core in the
//     same writes, for a number of sweeps; after each sweep every output's
//     receiver gain is set by least squares (bounded), which also takes up the
//     cores' insertion loss.
// The target of a core is Re(M) of its ideal model at the model's phases.
// Crosstalk and efficiency errors make the one-phase curves only nearly
// sinusoidal in the commanded phase; the sweeps absorb that.
//
// Thread safety: none; drives one oracle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {

struct InSituProgrammingOptions {
  int sweeps = 6;
  // Then Levenberg-Marquardt steps on every core's phases at once, with the
  // Jacobian measured by phase shifts of +-shift_rad (exact for a
  // sinusoid: dR = (R(+) - R(-)) / (2 sin shift)); a step that does not
  // lower a core's residual is taken back and that core's damping raised.
  int refinements = 8;
  double shift_rad = 0.25;
  // Receiver gains may move within [1 / max_gain_factor, max_gain_factor]
  // times the nominal 1 / readout_scale_mw.
  double max_gain_factor = 3.0;
  // Called after each sweep and refinement with (done, sweeps + refinements,
  // mean relative residual); returning false stops there (the result so far
  // is returned).
  std::function<bool(int, int, double)> progress;
};

// Options within bounds, or INVALID_ARGUMENT naming the field.
absl::Status ValidateInSituProgrammingOptions(const InSituProgrammingOptions& options);

struct InSituProgrammingResult {
  std::vector<double> phases_rad;  // the chip's full phase vector, as written last
  // Receiver calibration to copy into the ChipPlacement (per chip output).
  std::vector<double> output_offset_mw;
  std::vector<double> output_gain_per_mw;
  // Per model core: ||g R - T||_F / ||T||_F before and after (the used rows
  // and columns only; before: nominal gains).
  std::vector<double> initial_residual;
  std::vector<double> final_residual;
  int sweeps = 0;
  int refinements = 0;
  std::int64_t queries = 0;
  std::int64_t phase_writes = 0;
  // Writes the chip refused (FAILED_PRECONDITION: a configuration it cannot
  // reach, e.g. a phase that needs negative power under its crosstalk); the
  // programming skips that probe or step and goes on.
  std::int64_t refused_writes = 0;
};

namespace core_fit {
struct CoreTarget;
struct Measurement;
}  // namespace core_fit

// The programming as a sequence of short steps, so that a daemon can
// interleave it with other work on its hardware thread: each Step() writes
// the phases at most three times and takes at most three measurements
// (k + 1 queries each).
class InSituProgrammer {
 public:
  // The start: the chip's full phase vector with the model deployed (e.g.
  // DeployedPhases). INVALID_ARGUMENT for bad options or a phase vector of
  // the wrong size. The model is read here only (its targets are copied).
  // REQUIRES: placement from PlaceModel(model, chip of `layout`).
  static absl::StatusOr<InSituProgrammer> Create(Model& model, const ChipPlacement& placement,
                                                 const photonsim::ChipLayout& layout,
                                                 std::span<const double> start_phases,
                                                 const InSituProgrammingOptions& options);
  InSituProgrammer(InSituProgrammer&&) noexcept;
  InSituProgrammer& operator=(InSituProgrammer&&) noexcept;
  ~InSituProgrammer();

  // Runs the next step on `oracle` (always the same chip). Returns true once
  // every sweep and refinement is done (the chip is then at
  // result().phases_rad). Errors come from the oracle; the chip is left at
  // whatever was written last.
  absl::StatusOr<bool> Step(ChipOracle& oracle);

  bool done() const;
  // Sweeps and refinements completed, and their total.
  int completed() const;
  int total() const;
  // Steps of the present sweep or refinement done, of how many (for
  // progress within a long sweep).
  double fraction() const;
  double mean_residual() const;
  // Complete once done(); before that, what is known so far.
  InSituProgrammingResult result() const;

 private:
  struct State;
  explicit InSituProgrammer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Programs the model's cores on the chip, starting from `start_phases`, by
// running InSituProgrammer to the end (options.progress after each sweep
// and refinement). The chip is left at the returned phases.
absl::StatusOr<InSituProgrammingResult> ProgramCoresInSitu(Model& model,
                                                           const ChipPlacement& placement,
                                                           ChipOracle& oracle,
                                                           std::span<const double> start_phases,
                                                           const InSituProgrammingOptions& options);

// Copies the result's receiver calibration into `placement`.
void ApplyReceiverCalibration(const InSituProgrammingResult& result, ChipPlacement& placement);

}  // namespace phc::trainers::onn
