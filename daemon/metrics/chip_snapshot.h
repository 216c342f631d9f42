// ChipSnapshot: what the metrics endpoint reports about the chip, copied on
// the hardware thread in one task so that its values belong together.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daemon/chip/chip_controller.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {

class SessionManager;
struct CalibrationState;

struct CalibrationSummary {
  std::string created_at;  // RFC 3339
  double efficiency_fit_rms = 0.0;
  double bias_fit_rms = 0.0;
  int fitted_phases = 0;
};

struct ChipSnapshot {
  std::chrono::steady_clock::time_point taken;
  PhaseState phases;
  HeaterLimits limits;                  // the present budget
  std::vector<double> photocurrent_ua;  // last reading; empty before one
  std::optional<CalibrationSummary> calibration;
  // The TEC's reading; absent without a TEC or when it did not answer.
  std::optional<TemperatureReading> temperature;
  std::vector<photonic::v1::SessionStatus> sessions;
};

// Reads the TEC (one instrument read per snapshot, at most one per 100 ms:
// SnapshotCache), unless an instrument link is lost; everything else is
// copied.
// REQUIRES: the controller's hardware thread.
ChipSnapshot TakeChipSnapshot(ChipController& controller, const CalibrationState& calibration,
                              const SessionManager& sessions);

}  // namespace phc::daemon
