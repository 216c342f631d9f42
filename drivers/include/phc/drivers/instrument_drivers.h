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

struct DriverSet {
  std::string backend_name;
  std::unique_ptr<HeaterDriver> heaters;
  std::unique_ptr<DacDriver> modulators;
  std::unique_ptr<AdcDriver> detectors;
  std::shared_ptr<Clock> clock;  // the time the instruments live in
  // Serial backends: the instruments' links (null: links cannot be lost).
  std::shared_ptr<LinkHealth> links;
};

}  // namespace phc::drivers
