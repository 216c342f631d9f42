// Calibration on the chip: single-heater sweeps give each heater's
// efficiency; readings of random heater configurations through one-hot and
// paired inputs, fitted with an ideal model of each MZI circuit, give the
// phase biases; the crosstalk strength is fitted on the same readings.
// MZI meshes are calibrated; coherent SVD cores get their heater
// efficiencies from the same sweeps (biases, crosstalk and receivers are
// taken up when a model is programmed onto them in situ); intensity SVD
// cores and microring banks keep their nominal model (fitted = false).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "photonic/v1/calibration.pb.h"
#include "photonsim/eigen.h"

namespace phc::daemon {

struct CalibrationOptions {
  int configurations = 48;
  int sweep_points = 32;
  int averages = 16;
  std::uint64_t seed = 1;
  int max_restarts = 8;
  // Clements meshes: start from the column-peeling estimate (off: the
  // random-configuration search only; an ablation).
  bool column_peeling = true;
};

// INVALID_ARGUMENT naming the field if out of range; fills defaults for 0.
absl::StatusOr<CalibrationOptions> CalibrationOptionsFrom(
    const photonic::v1::CalibrateRequest& request);

struct CalibrationStatus {
  double fraction = 0.0;
  std::string stage;
  int phase = -1;
  double eta_seconds = 0.0;
};

using CalibrationProgressFn = std::function<void(const CalibrationStatus&)>;

// Runs on a worker (its operations hold the hardware one by one, so reads
// go on between them) or while holding the hardware. Installs the result in the
// controller and leaves the chip in its safe state. CANCELLED if `cancelled`
// turns true (the chip is left safe and the old model kept).
absl::StatusOr<photonic::v1::PhaseCalibration> RunCalibration(ChipController& controller,
                                                              const CalibrationOptions& options,
                                                              const CalibrationProgressFn& progress,
                                                              const std::atomic<bool>* cancelled);

struct UnitaryMeasurement {
  double fidelity = 0.0;
  Eigen::MatrixXd measured;  // N x N output power fractions, column i = input i
  Eigen::MatrixXd target;    // |U|^2
};

// Programs circuit `circuit` to `target` with the controller's present
// phase model and measures every column. REQUIRES: hardware thread.
absl::StatusOr<UnitaryMeasurement> ProgramUnitaryAndMeasure(ChipController& controller, int circuit,
                                                            const photonsim::MatrixXc& target,
                                                            int averages);

}  // namespace phc::daemon
