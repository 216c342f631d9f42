#include "phc/drivers/sim_drivers.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "phc/drivers/sim_backend.h"

namespace phc::drivers {
namespace {

absl::Status CheckVoltage(absl::string_view what, int channel, double volts_v, double min_v,
                          double max_v) {
  // NaN fails the range test too.
  if (!(volts_v >= min_v && volts_v <= max_v)) {
    return absl::OutOfRangeError(absl::StrCat(what, " channel ", channel, ": ", volts_v,
                                              " V is outside [", min_v, ", ", max_v, "] V"));
  }
  return absl::OkStatus();
}

class SimHeaterDriver final : public HeaterDriver {
 public:
  SimHeaterDriver(std::shared_ptr<photonsim::SimChip> chip, double max_voltage_v)
      : chip_(std::move(chip)), max_voltage_v_(max_voltage_v) {}

  int channel_count() const override { return chip_->heater_count(); }
  double max_voltage_v() const override { return max_voltage_v_; }

  absl::Status SetVoltages(std::span<const int> channels,
                           std::span<const double> volts_v) override {
    if (channels.size() != volts_v.size()) {
      return absl::InvalidArgumentError("heater write: channels and volts differ in length");
    }
    for (std::size_t i = 0; i < channels.size(); ++i) {
      if (channels[i] < 0 || channels[i] >= channel_count()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "heater channel ", channels[i], " does not exist (", channel_count(), " channels)"));
      }
      if (absl::Status s = CheckVoltage("heater", channels[i], volts_v[i], 0.0, max_voltage_v_);
          !s.ok()) {
        return s;
      }
    }
    chip_->SetHeaterVoltages(channels, volts_v);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<double>> ReadVoltages() override { return chip_->heater_voltages_v(); }

 private:
  std::shared_ptr<photonsim::SimChip> chip_;
  double max_voltage_v_;
};

// Bipolar when the chip's modulators are (push-pull): [-max, max].
class SimDacDriver final : public DacDriver {
 public:
  SimDacDriver(std::shared_ptr<photonsim::SimChip> chip, double max_voltage_v)
      : chip_(std::move(chip)),
        max_voltage_v_(max_voltage_v),
        min_voltage_v_(chip_->modulators_bipolar() ? -max_voltage_v : 0.0) {}

  int channel_count() const override { return chip_->modulator_count(); }
  double max_voltage_v() const override { return max_voltage_v_; }
  double min_voltage_v() const override { return min_voltage_v_; }

  absl::Status SetVoltages(std::span<const double> volts_v) override {
    if (static_cast<int>(volts_v.size()) != channel_count()) {
      return absl::InvalidArgumentError(absl::StrCat("modulator write: expected ", channel_count(),
                                                     " voltages, got ", volts_v.size()));
    }
    if (absl::Status s = CheckVoltages(volts_v); !s.ok()) return s;
    chip_->SetModulatorVoltages(volts_v);
    return absl::OkStatus();
  }

  // Every value of `volts_v` (one or more rows) within the DAC's range.
  absl::Status CheckVoltages(std::span<const double> volts_v) const {
    // One pass without an early exit (it vectorises; a sweep checks every
    // row's volts); only a failing pass looks for the first bad value to name.
    const double min_v = min_voltage_v_, max_v = max_voltage_v_;
    auto in_range = [min_v, max_v](double v) { return v >= min_v && v <= max_v; };
    bool all_ok = true;
    for (const double v : volts_v) all_ok &= in_range(v);
    if (all_ok) return absl::OkStatus();
    const auto bad = std::find_if_not(volts_v.begin(), volts_v.end(), in_range);
    const auto i = static_cast<int>(bad - volts_v.begin());
    return CheckVoltage("modulator", i % channel_count(), *bad, min_voltage_v_, max_voltage_v_);
  }

 private:
  std::shared_ptr<photonsim::SimChip> chip_;
  double max_voltage_v_;
  double min_voltage_v_;
};

class SimAdcDriver final : public AdcDriver {
 public:
  explicit SimAdcDriver(std::shared_ptr<photonsim::SimChip> chip) : chip_(std::move(chip)) {}

  int channel_count() const override { return chip_->detector_count(); }

  absl::StatusOr<std::vector<double>> ReadCurrentsA(int averages) override {
    if (averages < 1) return absl::InvalidArgumentError("averages must be at least 1");
    return chip_->ReadPhotocurrentsA(averages);
  }

 private:
  std::shared_ptr<photonsim::SimChip> chip_;
};

// The simulator reads a sweep's rows in optical batches
// (SimChip::ReadSequencePhotocurrentsA).
class SimSweepDriver final : public SweepDriver {
 public:
  SimSweepDriver(std::shared_ptr<photonsim::SimChip> chip, double max_voltage_v)
      : chip_(chip), dac_(std::move(chip), max_voltage_v) {}

  absl::StatusOr<std::vector<double>> Sweep(std::span<const double> dac_volts_rows, int averages,
                                            std::span<const int> adc_channels) override {
    if (averages < 1) return absl::InvalidArgumentError("averages must be at least 1");
    if (dac_.channel_count() == 0) {
      return absl::FailedPreconditionError("sweep: the chip has no modulators");
    }
    if (dac_volts_rows.size() % static_cast<std::size_t>(dac_.channel_count()) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("sweep: ", dac_volts_rows.size(),
                                                     " voltages are not rows of ",
                                                     dac_.channel_count(), " modulator channels"));
    }
    for (const int channel : adc_channels) {
      if (channel < 0 || channel >= chip_->detector_count()) {
        return absl::InvalidArgumentError(absl::StrCat("sweep: ADC channel ", channel,
                                                       " is out of range (the chip has ",
                                                       chip_->detector_count(), " detectors)"));
      }
    }
    if (absl::Status s = dac_.CheckVoltages(dac_volts_rows); !s.ok()) return s;
    return chip_->ReadSequencePhotocurrentsA(dac_volts_rows, averages, adc_channels);
  }

 private:
  std::shared_ptr<photonsim::SimChip> chip_;
  SimDacDriver dac_;  // its channel count and range checks
};

// Sleeping on a simulated chip advances its virtual clock: no wall time.
// The setpoint range: the description's setpoint +- 10 K, as the serial
// backend sets the controller's limits.
class SimTecDriver final : public TecDriver {
 public:
  explicit SimTecDriver(std::shared_ptr<photonsim::SimChip> chip)
      : chip_(std::move(chip)),
        min_c_(chip_->tec_setpoint_c() - 10.0),
        max_c_(chip_->tec_setpoint_c() + 10.0) {}
  absl::StatusOr<double> ReadTemperatureC() override { return chip_->temperature_c(); }
  absl::Status SetSetpointC(double celsius) override {
    if (!(celsius >= min_c_ && celsius <= max_c_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("TEC setpoint ", celsius, " C is outside [", min_c_, ", ", max_c_, "] C"));
    }
    chip_->SetTecSetpointC(celsius);
    return absl::OkStatus();
  }
  double setpoint_c() const override { return chip_->tec_setpoint_c(); }
  double min_setpoint_c() const override { return min_c_; }
  double max_setpoint_c() const override { return max_c_; }

 private:
  std::shared_ptr<photonsim::SimChip> chip_;
  const double min_c_;
  const double max_c_;
};

class SimChipClock final : public Clock {
 public:
  explicit SimChipClock(std::shared_ptr<photonsim::SimChip> chip) : chip_(std::move(chip)) {}
  std::chrono::nanoseconds Now() const override { return chip_->now(); }
  void SleepFor(std::chrono::nanoseconds duration) override { chip_->Advance(duration); }

 private:
  std::shared_ptr<photonsim::SimChip> chip_;
};

}  // namespace

DriverSet MakeSimDrivers(std::shared_ptr<photonsim::SimChip> chip, double heater_max_voltage_v,
                         double modulator_max_voltage_v) {
  DriverSet set;
  set.backend_name = "sim";
  set.heaters = std::make_unique<SimHeaterDriver>(chip, heater_max_voltage_v);
  set.modulators = std::make_unique<SimDacDriver>(chip, modulator_max_voltage_v);
  set.sweeps = std::make_unique<SimSweepDriver>(chip, modulator_max_voltage_v);
  set.detectors = std::make_unique<SimAdcDriver>(chip);
  set.tec = std::make_unique<SimTecDriver>(chip);
  set.clock = std::make_shared<SimChipClock>(std::move(chip));
  return set;
}

absl::StatusOr<DriverSet> MakeSimBackend(const photonic::v1::ChipDescription& chip,
                                         std::uint64_t seed) {
  absl::StatusOr<std::unique_ptr<photonsim::SimChip>> sim = photonsim::SimChip::Create(chip, seed);
  if (!sim.ok()) return sim.status();
  return MakeSimDrivers(std::shared_ptr<photonsim::SimChip>(*std::move(sim)),
                        chip.heater().max_voltage_v(), chip.modulator().max_voltage_v());
}

}  // namespace phc::drivers
