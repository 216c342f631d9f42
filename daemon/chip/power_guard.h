// PowerGuard: the single check every heater write passes (HeaterBank calls
// it for phase plans and for calibration's powers alike). It judges the
// volts the heater DAC will really output (DacVolts), refuses phases the
// planned powers do not reach, and sees the whole heater state a request
// would produce: it refuses it if any channel's voltage or current, or the
// total electrical power, would exceed its limit. Nothing is clipped: a
// refused request is reported with the channel, the limit and the value, as
// FAILED_PRECONDITION.
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "daemon/chip/heater_model.h"

namespace phc::daemon {

struct HeaterLimits {
  double max_voltage_v = 0.0;
  double max_current_ma = 0.0;
  double max_total_power_mw = 0.0;
};

// Why a write was refused, for the refusal counters.
enum class GuardRefusal { kInvalidDrive, kVoltage, kCurrent, kTotalPower, kUnreachablePhase };
inline constexpr int kGuardRefusalKinds = 5;
// "invalid_drive", "voltage", "current", "total_power", "unreachable_phase".
std::string_view GuardRefusalName(GuardRefusal reason);
using GuardRefusalCounts = std::array<std::uint64_t, kGuardRefusalKinds>;

class PowerGuard {
 public:
  // dac_bits 0: the DAC outputs any voltage exactly.
  PowerGuard(HeaterLimits limits, NominalHeaterModel model, std::uint32_t dac_bits = 0);

  // volts_v: the voltage of every heater channel after the intended write.
  absl::Status CheckHeaterVoltages(std::span<const double> volts_v) const;
  // What the heater DAC outputs for a requested voltage (nearest code over
  // [0, max_voltage_v]): the value the checks must judge.
  double DacVolts(double volts_v) const {
    return dac_lsb_v_ > 0.0 ? std::round(volts_v / dac_lsb_v_) * dac_lsb_v_ : volts_v;
  }
  // Channel `channel` asked for `wanted_rad` and its planned power gives
  // `reached_rad`: FAILED_PRECONDITION unless they agree (mod 2 pi) to 1e-6
  // rad (the crosstalk solve found no non-negative powers).
  absl::Status CheckReached(int channel, double wanted_rad, double reached_rad) const;

  const HeaterLimits& limits() const { return limits_; }
  // REQUIRES: a positive finite budget; the caller checks it against the
  // chip's ceiling and the present state.
  void set_max_total_power_mw(double budget_mw) { limits_.max_total_power_mw = budget_mw; }
  double TotalPowerMw(std::span<const double> volts_v) const;

  // Refusals so far, by reason. Thread-safe.
  void CountRefusal(GuardRefusal reason) const;
  GuardRefusalCounts refusals() const;

 private:
  HeaterLimits limits_;
  NominalHeaterModel model_;
  double dac_lsb_v_;
  mutable std::array<std::atomic<std::uint64_t>, kGuardRefusalKinds> refusals_{};
};

}  // namespace phc::daemon
