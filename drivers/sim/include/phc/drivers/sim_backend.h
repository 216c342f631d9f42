// The in-process simulated chip as a driver backend. The daemon asks for
// drivers by chip description and seed; the simulator behind them (and its
// hidden truth) stays out of sight.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "phc/drivers/instrument_drivers.h"
#include "photonic/v1/config.pb.h"

namespace phc::drivers {

// A SimChip drawn from `seed` around `chip`, behind heater, DAC, ADC and clock
// drivers that refuse voltages above the description's maxima.
absl::StatusOr<DriverSet> MakeSimBackend(const photonic::v1::ChipDescription& chip,
                                         std::uint64_t seed);

}  // namespace phc::drivers
