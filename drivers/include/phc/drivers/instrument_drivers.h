// Abstract instrument drivers: the only interfaces through which photonicd
// touches hardware. Backends: drivers/sim (in-process SimChip); serial
// backends implement the same interfaces.
//
// Thread safety: none; ChipController calls every driver from its one
// hardware thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/drivers/clock.h"
#include "phc/drivers/link_health.h"

namespace phc::drivers {

// Multi-channel heater driver (e.g. a Qontrol Q8iv chain) in voltage mode.
class HeaterDriver {
 public:
  virtual ~HeaterDriver() = default;
  virtual int channel_count() const = 0;
  // The driver's own hardware limit; writes above it are refused.
  virtual double max_voltage_v() const = 0;
  // Writes volts_v[i] to channels[i]. REQUIRES: equal lengths.
  virtual absl::Status SetVoltages(std::span<const int> channels,
                                   std::span<const double> volts_v) = 0;
  virtual absl::StatusOr<std::vector<double>> ReadVoltages() = 0;
};

// DAC channels driving the input modulators.
class DacDriver {
 public:
  virtual ~DacDriver() = default;
  virtual int channel_count() const = 0;
  // Writes outside [min_voltage_v(), max_voltage_v()] are refused:
  // min 0 V for unipolar DACs, -max_voltage_v() for bipolar ones (push-pull
  // modulators, modulator.bipolar).
  virtual double max_voltage_v() const = 0;
  virtual double min_voltage_v() const = 0;
  // Writes every channel. REQUIRES: volts_v.size() == channel_count().
  virtual absl::Status SetVoltages(std::span<const double> volts_v) = 0;
};

// ADC / transimpedance front end reading the photodetectors.
class AdcDriver {
 public:
  virtual ~AdcDriver() = default;
  virtual int channel_count() const = 0;
  // Photocurrent of every channel in amperes, averaged over `averages`
  // conversions. REQUIRES: averages >= 1.
  virtual absl::StatusOr<std::vector<double>> ReadCurrentsA(int averages) = 0;
};

// The modulator DAC and the ADC run as one hardware-timed sweep (an AWG
// stepping the DAC, the ADC converting every channel after each step): many
// input vectors in one instrument round trip. Optional: a backend without
// it is driven step by step.
class SweepDriver {
 public:
  virtual ~SweepDriver() = default;
  // Plays each row of dac_volts_rows (rows x DAC channels, row-major) and
  // returns rows x scan photocurrents in amperes, each averaged over
  // `averages` conversions. `adc_channels` is the ADC's scan list, the
  // channels converted after each step in this order (empty: every channel,
  // in index order). The DAC keeps the last row. A voltage outside the DAC's
  // range or a channel out of range refuses the whole sweep and changes
  // nothing.
  // REQUIRES: averages >= 1.
  virtual absl::StatusOr<std::vector<double>> Sweep(std::span<const double> dac_volts_rows,
                                                    int averages,
                                                    std::span<const int> adc_channels) = 0;
};

// The thermo-electric cooler holding the chip's temperature. Optional.
class TecDriver {
 public:
  virtual ~TecDriver() = default;
  // The chip's temperature as the controller's sensor reads it, deg C.
  virtual absl::StatusOr<double> ReadTemperatureC() = 0;
  // INVALID_ARGUMENT outside [min_setpoint_c(), max_setpoint_c()] (nothing
  // is sent).
  virtual absl::Status SetSetpointC(double celsius) = 0;
  // The last setpoint sent.
  virtual double setpoint_c() const = 0;
  virtual double min_setpoint_c() const = 0;
  virtual double max_setpoint_c() const = 0;
};

struct DriverSet {
  std::string backend_name;
  std::unique_ptr<HeaterDriver> heaters;
  std::unique_ptr<DacDriver> modulators;
  std::unique_ptr<AdcDriver> detectors;
  std::unique_ptr<SweepDriver> sweeps;  // null: no hardware-timed sweeps
  std::unique_ptr<TecDriver> tec;       // null: no TEC
  std::shared_ptr<Clock> clock;         // the time the instruments live in
  // Serial backends: the instruments' links (null: links cannot be lost).
  std::shared_ptr<LinkHealth> links;
};

}  // namespace phc::drivers
