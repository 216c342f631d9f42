// What a training algorithm may do with a chip: set every phase, send input
// amplitudes, read the optical power at every output, and learn what that
// cost. Implemented over the daemon's ChipController (the real or simulated
// chip, in situ) and over the ideal model of a chip description (in silico),
// so one algorithm runs unchanged on both.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "photonsim/chip_layout.h"

namespace phc::trainers {

struct OracleCost {
  std::int64_t queries = 0;       // input patterns sent and read
  std::int64_t phase_writes = 0;  // SetPhases calls that reached the chip
  double heater_energy_mj = 0.0;  // electrical energy in the heaters
  double chip_seconds = 0.0;      // instrument time (virtual on a simulator)
};

class ChipOracle {
 public:
  virtual ~ChipOracle() = default;

  virtual const photonsim::ChipLayout& layout() const = 0;
  // Every phase of the chip, in rad. Requests over a power limit fail with
  // FAILED_PRECONDITION and leave the chip as it was.
  virtual absl::Status SetPhases(std::span<const double> phases_rad) = 0;
  // Input field amplitudes in [0, 1] for every input; returns the optical
  // power in mW at every output (balanced outputs: positive minus negative).
  virtual absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) = 0;
  // Query for many inputs at the present phases, reading the outputs
  // `outputs` (distinct, in range, in this order; empty: every output):
  // amplitude_rows is rows x the chip's inputs, row-major; returns rows x
  // outputs, row-major. Counts one query per row. The default queries row by
  // row; an oracle over a chip that runs input sweeps in hardware sends them
  // as one, converting only those outputs.
  virtual absl::StatusOr<std::vector<double>> QueryBatch(std::span<const double> amplitude_rows,
                                                         std::span<const int> outputs);
  // Every output.
  absl::StatusOr<std::vector<double>> QueryBatch(std::span<const double> amplitude_rows) {
    return QueryBatch(amplitude_rows, {});
  }
  // The heater power, in mW, the chip would draw for these phases, from the
  // oracle's phase <-> power model (calibrated where there is one).
  virtual double HeaterPowerMw(std::span<const double> phases_rad) const = 0;
  // Per-phase heater power for these phases, same model.
  virtual std::vector<double> HeaterPowersMw(std::span<const double> phases_rad) const = 0;
  // Power heater `index` alone needs for `phase_rad` (no crosstalk): the
  // cheap per-coordinate estimate power-aware optimizers use.
  virtual double PhasePowerMw(int index, double phase_rad) const = 0;
  virtual OracleCost cost() const = 0;
};

}  // namespace phc::trainers
