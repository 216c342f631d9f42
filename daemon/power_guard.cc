#include "daemon/power_guard.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace phc::daemon {

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
      return absl::FailedPreconditionError(
          absl::StrCat("heater channel ", ch, ": voltage ", v, " V is not a valid drive"));
    }
    if (v > limits_.max_voltage_v) {
      return absl::FailedPreconditionError(absl::StrCat(
          "heater channel ", ch, ": ", v, " V exceeds the limit of ", limits_.max_voltage_v, " V"));
    }
    const double current_ma = model_.CurrentMaForVoltage(v);
    if (current_ma > limits_.max_current_ma) {
      return absl::FailedPreconditionError(absl::StrCat("heater channel ", ch, ": ", current_ma,
                                                        " mA exceeds the limit of ",
                                                        limits_.max_current_ma, " mA"));
    }
    total_power_mw += model_.PowerMwForVoltage(v);
  }
  if (total_power_mw > limits_.max_total_power_mw) {
    return absl::FailedPreconditionError(absl::StrCat("total heater power ", total_power_mw,
                                                      " mW exceeds the budget of ",
                                                      limits_.max_total_power_mw, " mW"));
  }
  return absl::OkStatus();
}

}  // namespace phc::daemon
