// Conversion between phase and heater drive with the chip description's
// nominal values: P = V^2 / R, phase = (pi / P_pi) * P. Calibration replaces
// these nominal values with fitted ones.
#pragma once

#include "photonic/v1/config.pb.h"

namespace phc::daemon {

// Maps any finite phase to its least-power equivalent in [0, 2 pi).
double WrapPhase(double phase_rad);

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
