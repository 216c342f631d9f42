#include "daemon/chip/heater_model.h"

#include <cmath>
#include <numbers>

namespace phc::daemon {

double WorstCaseResistanceRatio(const photonic::v1::ChipDescription& chip) {
  return 1.0 - 3.0 * chip.fabrication().resistance_spread();
}

NominalHeaterModel::NominalHeaterModel(const photonic::v1::HeaterSpec& heater)
    : resistance_ohm_(heater.resistance_ohm()),
      efficiency_rad_per_mw_(std::numbers::pi / heater.p_pi_mw()) {}

double NominalHeaterModel::PowerMwForPhase(double wrapped_phase_rad) const {
  return wrapped_phase_rad / efficiency_rad_per_mw_;
}

double NominalHeaterModel::VoltageForPhase(double wrapped_phase_rad) const {
  return std::sqrt(PowerMwForPhase(wrapped_phase_rad) * 1e-3 * resistance_ohm_);
}

double NominalHeaterModel::PowerMwForVoltage(double volts_v) const {
  return volts_v * volts_v / resistance_ohm_ * 1e3;
}

double NominalHeaterModel::CurrentMaForVoltage(double volts_v) const {
  return volts_v / resistance_ohm_ * 1e3;
}

double NominalHeaterModel::PhaseForVoltage(double volts_v) const {
  return efficiency_rad_per_mw_ * PowerMwForVoltage(volts_v);
}

}  // namespace phc::daemon
