#include "daemon/metrics/chip_snapshot.h"

#include <algorithm>

#include "daemon/services/calibration_service.h"
#include "daemon/training/session_manager.h"

namespace phc::daemon {

ChipSnapshot TakeChipSnapshot(ChipController& controller, const CalibrationState& calibration,
                              const SessionManager& sessions) {
  ChipSnapshot snapshot;
  snapshot.taken = std::chrono::steady_clock::now();
  snapshot.phases = controller.GetPhases();
  snapshot.limits = controller.heater_limits();
  snapshot.photocurrent_ua = controller.last_photocurrent_ua();
  if (const std::optional<photonic::v1::PhaseCalibration>& current = calibration.current) {
    snapshot.calibration = CalibrationSummary{
        .created_at = current->created_at(),
        .efficiency_fit_rms = current->efficiency_fit_rms(),
        .bias_fit_rms = current->bias_fit_rms(),
        .fitted_phases =
            static_cast<int>(std::count(current->fitted().begin(), current->fitted().end(), true)),
    };
  }
  snapshot.sessions = sessions.List();
  // While an instrument link is lost, a TEC read could wait out the serial
  // timeout and its retries on the hardware thread at every scrape: skip it.
  const std::shared_ptr<drivers::LinkHealth>& links = controller.links();
  if (links != nullptr && !links->AllUp()) return snapshot;
  if (absl::StatusOr<TemperatureReading> temperature = controller.ReadTemperature();
      temperature.ok()) {
    snapshot.temperature = *temperature;
  }
  return snapshot;
}

}  // namespace phc::daemon
