#include "daemon/training/controller_oracle.h"

#include "photonsim/phase.h"

namespace phc::daemon {

ControllerOracle::ControllerOracle(ChipController& controller, std::uint32_t averages)
    : controller_(controller),
      averages_(averages),
      energy_start_mj_(controller.GetPhases().heater_energy_mj),
      time_start_(controller.ChipTime()) {}

absl::Status ControllerOracle::SetPhases(std::span<const double> phases_rad) {
  if (absl::Status s = controller_.WritePhases(phases_rad, {}); !s.ok()) return s;
  ++phase_writes_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> ControllerOracle::Query(std::span<const double> amplitudes) {
  QueryConfig config;
  config.amplitudes = amplitudes;
  config.averages = averages_;
  absl::StatusOr<DetectorReading> reading = controller_.Query(config);
  if (!reading.ok()) return reading.status();
  ++queries_;
  return std::move(reading->optical_power_mw);
}

absl::StatusOr<std::vector<double>> ControllerOracle::QueryBatch(
    std::span<const double> amplitude_rows, std::span<const int> outputs) {
  absl::StatusOr<std::vector<double>> powers =
      controller_.QueryBatch(amplitude_rows, averages_, outputs);
  if (!powers.ok()) return powers.status();
  queries_ += static_cast<std::int64_t>(amplitude_rows.size()) / layout().input_count;
  return powers;
}

double ControllerOracle::HeaterPowerMw(std::span<const double> phases_rad) const {
  double total = 0.0;
  for (double p : HeaterPowersMw(phases_rad)) total += p;
  return total;
}

std::vector<double> ControllerOracle::HeaterPowersMw(std::span<const double> phases_rad) const {
  const ChipController::HardwareHold hold = controller_.Hold();  // the model can be replaced
  return controller_.phase_model().PowersForPhases(phases_rad);
}

double ControllerOracle::PhasePowerMw(int index, double phase_rad) const {
  const ChipController::HardwareHold hold = controller_.Hold();
  const HeaterPhaseModel& model = controller_.phase_model();
  return photonsim::WrapPhase(phase_rad - model.bias_rad()[index]) /
         model.efficiency_rad_per_mw()[index];
}

trainers::OracleCost ControllerOracle::cost() const {
  trainers::OracleCost cost;
  cost.queries = queries_;
  cost.phase_writes = phase_writes_;
  cost.heater_energy_mj = controller_.GetPhases().heater_energy_mj - energy_start_mj_;
  cost.chip_seconds = std::chrono::duration<double>(controller_.ChipTime() - time_start_).count();
  return cost;
}

}  // namespace phc::daemon
