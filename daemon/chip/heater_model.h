// Conversion between phase and heater drive with the chip description's
// nominal values: P = V^2 / R, phase = (pi / P_pi) * P. Calibration replaces
// these nominal values with fitted ones. Phases are wrapped with
// photonsim::WrapPhase (photonsim/phase.h) before they become drives.
#pragma once

#include "photonic/v1/config.pb.h"

namespace phc::daemon {

// The lowest heater resistance the description's fabrication spread allows,
// as a fraction of the nominal one: 1 - 3 sigma. PowerGuard judges currents
// and powers with R_nominal times this (a heater whose true resistance is
// low draws more than the nominal value says); calibration keeps its powers
// inside that judgement.
double WorstCaseResistanceRatio(const photonic::v1::ChipDescription& chip);

class NominalHeaterModel {
 public:
  explicit NominalHeaterModel(const photonic::v1::HeaterSpec& heater);

  double PowerMwForPhase(double wrapped_phase_rad) const;
  double VoltageForPhase(double wrapped_phase_rad) const;
  double PowerMwForVoltage(double volts_v) const;
  double CurrentMaForVoltage(double volts_v) const;
  double PhaseForVoltage(double volts_v) const;
  double resistance_ohm() const { return resistance_ohm_; }

 private:
  double resistance_ohm_;
  double efficiency_rad_per_mw_;
};

}  // namespace phc::daemon
