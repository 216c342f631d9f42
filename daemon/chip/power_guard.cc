#include "daemon/chip/power_guard.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "photonsim/phase.h"

namespace phc::daemon {

std::string_view GuardRefusalName(GuardRefusal reason) {
  switch (reason) {
    case GuardRefusal::kInvalidDrive:
      return "invalid_drive";
    case GuardRefusal::kVoltage:
      return "voltage";
    case GuardRefusal::kCurrent:
      return "current";
    case GuardRefusal::kTotalPower:
      return "total_power";
    case GuardRefusal::kUnreachablePhase:
      return "unreachable_phase";
  }
  return "unknown";
}

PowerGuard::PowerGuard(HeaterLimits limits, NominalHeaterModel model, std::uint32_t dac_bits)
    : limits_(limits),
      model_(model),
      dac_lsb_v_(dac_bits > 0 ? limits.max_voltage_v / (std::ldexp(1.0, dac_bits) - 1.0) : 0.0) {}

absl::Status PowerGuard::CheckReached(int channel, double wanted_rad, double reached_rad) const {
  const double error = std::abs(std::remainder(reached_rad - wanted_rad, photonsim::kTwoPi));
  if (error < 1e-6) return absl::OkStatus();
  CountRefusal(GuardRefusal::kUnreachablePhase);
  return absl::FailedPreconditionError(
      absl::StrCat("phase ", channel, " = ", wanted_rad,
                   " rad cannot be reached with non-negative heater powers given the "
                   "calibrated crosstalk"));
}

void PowerGuard::CountRefusal(GuardRefusal reason) const {
  refusals_[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
}

GuardRefusalCounts PowerGuard::refusals() const {
  GuardRefusalCounts counts{};
  for (int i = 0; i < kGuardRefusalKinds; ++i) {
    counts[i] = refusals_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

double PowerGuard::TotalPowerMw(std::span<const double> volts_v) const {
  double total_mw = 0.0;
  for (double v : volts_v) total_mw += model_.PowerMwForVoltage(v);
  return total_mw;
}

absl::Status PowerGuard::CheckHeaterVoltages(std::span<const double> volts_v) const {
  double total_power_mw = 0.0;
  for (std::size_t ch = 0; ch < volts_v.size(); ++ch) {
    const double v = volts_v[ch];
    if (!std::isfinite(v) || v < 0.0) {
      CountRefusal(GuardRefusal::kInvalidDrive);
      return absl::FailedPreconditionError(
          absl::StrCat("heater channel ", ch, ": voltage ", v, " V is not a valid drive"));
    }
    if (v > limits_.max_voltage_v) {
      CountRefusal(GuardRefusal::kVoltage);
      return absl::FailedPreconditionError(absl::StrCat(
          "heater channel ", ch, ": ", v, " V exceeds the limit of ", limits_.max_voltage_v, " V"));
    }
    const double current_ma = model_.CurrentMaForVoltage(v);
    if (current_ma > limits_.max_current_ma) {
      CountRefusal(GuardRefusal::kCurrent);
      return absl::FailedPreconditionError(absl::StrCat("heater channel ", ch, ": ", current_ma,
                                                        " mA exceeds the limit of ",
                                                        limits_.max_current_ma, " mA"));
    }
    total_power_mw += model_.PowerMwForVoltage(v);
  }
  if (total_power_mw > limits_.max_total_power_mw) {
    CountRefusal(GuardRefusal::kTotalPower);
    return absl::FailedPreconditionError(absl::StrCat("total heater power ", total_power_mw,
                                                      " mW exceeds the budget of ",
                                                      limits_.max_total_power_mw, " mW"));
  }
  return absl::OkStatus();
}

}  // namespace phc::daemon
