// In-process driver backend: every driver talks to one shared SimChip.
// For tests and benches that also look at the SimChip (phc_sim_drivers_testing);
// the daemon uses phc/drivers/sim_backend.h.
#pragma once

#include <memory>

#include "phc/drivers/instrument_drivers.h"
#include "photonsim/sim_chip.h"

namespace phc::drivers {

// Heater and DAC drivers refuse writes above max voltages, as the real
// instruments do once their VMAX is set, and below 0 V (the DAC: below
// -modulator_max_voltage_v if the chip's modulators are bipolar).
DriverSet MakeSimDrivers(std::shared_ptr<photonsim::SimChip> chip, double heater_max_voltage_v,
                         double modulator_max_voltage_v);

}  // namespace phc::drivers
