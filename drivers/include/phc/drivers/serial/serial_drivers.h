// The serial backend's DriverSet: a Qontrol-compatible chain for the
// heaters, another for the modulator DAC, a SCPI ADC for the detectors, an
// optional SCPI TEC, on the wall clock.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "phc/drivers/instrument_drivers.h"
#include "phc/drivers/serial/reconnecting_transport.h"
#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {

struct SerialPorts {
  std::string heaters;
  std::string modulators;
  std::string adc;
  std::string tec;  // empty: none
  int baud = 115200;
  std::chrono::milliseconds timeout{200};
  double adc_conversion_time_s = 1e-6;
  double heater_max_voltage_v = 12.0;
  double modulator_max_voltage_v = 12.0;
  // Push-pull modulators on a bipolar DAC chain: writes span
  // [-modulator_max_voltage_v, modulator_max_voltage_v] (chip modulator.bipolar).
  bool modulator_bipolar = false;
  double tec_setpoint_c = 25.0;
  Backoff backoff;  // reconnection after a device is lost
};

struct SerialTransports {
  std::unique_ptr<Transport> heaters;
  std::unique_ptr<Transport> modulators;
  std::unique_ptr<Transport> adc;
  std::unique_ptr<Transport> tec;  // null: none
};

// Opens and identifies every instrument; UNAVAILABLE naming the one that
// does not answer. The channel counts are checked by the ChipController.
absl::StatusOr<DriverSet> MakeSerialDrivers(const SerialPorts& ports);

// The same on given transports and clock (tests: fake transports). The
// heater, modulator and ADC links reconnect after a loss (DriverSet::links).
absl::StatusOr<DriverSet> ConnectSerialDrivers(SerialTransports transports,
                                               const SerialPorts& ports,
                                               std::shared_ptr<Clock> clock);

}  // namespace phc::drivers::serial
