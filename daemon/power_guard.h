// PowerGuard: the single check every heater write passes. It sees the whole
// heater state a request would produce and refuses it if any channel's
// voltage or current, or the total electrical power, would exceed its limit.
// Nothing is clipped: a refused request is reported with the channel, the
// limit and the value, as FAILED_PRECONDITION.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "daemon/heater_model.h"

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
  PowerGuard(HeaterLimits limits, NominalHeaterModel model) : limits_(limits), model_(model) {}

  // volts_v: the voltage of every heater channel after the intended write.
  absl::Status CheckHeaterVoltages(std::span<const double> volts_v) const;

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
  mutable std::array<std::atomic<std::uint64_t>, kGuardRefusalKinds> refusals_{};
};

}  // namespace phc::daemon
