#include "daemon/chip/heater_phase_model.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "photonsim/chip_layout.h"
#include "photonsim/phase.h"

namespace phc::daemon {

std::vector<std::vector<photonsim::CrosstalkEntry>> CrosstalkModel(
    const photonic::v1::ChipDescription& chip, double nearest, double decay_pitch,
    double cutoff_pitch) {
  photonic::v1::ChipDescription model = chip;
  model.mutable_thermal()->set_crosstalk_nearest(nearest);
  model.mutable_thermal()->set_crosstalk_decay_pitch(decay_pitch);
  model.mutable_thermal()->set_crosstalk_cutoff_pitch(cutoff_pitch);
  return photonsim::CrosstalkFromGeometry(model, photonsim::BuildChipLayout(model));
}

HeaterPhaseModel HeaterPhaseModel::Nominal(const photonic::v1::ChipDescription& chip) {
  const int phases = photonsim::BuildChipLayout(chip).phase_count;
  // A trimmed shifter's phase at zero power is its designed phase.
  std::vector<double> bias(phases, 0.0);
  for (const auto& trim : chip.trimmed_phases()) bias[trim.phase()] = trim.phase_rad();
  return HeaterPhaseModel(std::move(bias),
                          std::vector<double>(phases, std::numbers::pi / chip.heater().p_pi_mw()),
                          std::vector<std::vector<photonsim::CrosstalkEntry>>(phases), false);
}

absl::StatusOr<HeaterPhaseModel> HeaterPhaseModel::FromCalibration(
    const photonic::v1::ChipDescription& chip, const photonic::v1::PhaseCalibration& calibration) {
  const int phases = photonsim::BuildChipLayout(chip).phase_count;
  if (chip.trimmed_phases_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chip \"", chip.name(), "\" has ", chip.trimmed_phases_size(),
        " trimmed (passive) phase shifters; a heater calibration of such a chip is not supported"));
  }
  if (calibration.format_version() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration format_version ", calibration.format_version(), " is not 1"));
  }
  if (calibration.chip_name() != chip.name()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration is for chip \"", calibration.chip_name(), "\", not \"", chip.name(), "\""));
  }
  if (calibration.phase_bias_rad_size() != phases ||
      calibration.efficiency_rad_per_mw_size() != phases) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration has ", calibration.phase_bias_rad_size(), " biases and ",
                     calibration.efficiency_rad_per_mw_size(), " efficiencies; the chip has ",
                     phases, " phases"));
  }
  for (int i = 0; i < phases; ++i) {
    const double eta = calibration.efficiency_rad_per_mw(i);
    if (!std::isfinite(calibration.phase_bias_rad(i)) || !std::isfinite(eta) || eta <= 0.0) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibration entry ", i, " is not usable (bias ",
                       calibration.phase_bias_rad(i), ", efficiency ", eta, ")"));
    }
  }
  const double nearest = calibration.crosstalk_nearest();
  if (!(nearest >= 0.0 && nearest < 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration crosstalk_nearest ", nearest, " is outside [0, 0.5)"));
  }
  const double decay = calibration.crosstalk_decay_pitch();
  const double cutoff = calibration.crosstalk_cutoff_pitch();
  if (nearest > 0.0 && !(decay > 0.0 && decay <= 100.0 && cutoff >= 1.0 && cutoff <= 10.0)) {
    return absl::InvalidArgumentError(absl::StrCat("calibration crosstalk decay ", decay,
                                                   " pitch must be in (0, 100] and cutoff ", cutoff,
                                                   " pitch in [1, 10]"));
  }
  std::vector<std::vector<photonsim::CrosstalkEntry>> crosstalk(phases);
  if (nearest > 0.0) crosstalk = CrosstalkModel(chip, nearest, decay, cutoff);
  // The Jacobi solve in PowersForPhases converges when every row of the
  // coupling matrix sums to less than one.
  for (int i = 0; i < phases; ++i) {
    double row_sum = 0.0;
    for (const photonsim::CrosstalkEntry& e : crosstalk[i]) row_sum += std::abs(e.coupling);
    if (!(row_sum < 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "calibration crosstalk couples heater ", i, " to a total of ", row_sum,
          " of its neighbours' power; it must be below 1 for the phase solve to converge"));
    }
  }
  return HeaterPhaseModel(
      {calibration.phase_bias_rad().begin(), calibration.phase_bias_rad().end()},
      {calibration.efficiency_rad_per_mw().begin(), calibration.efficiency_rad_per_mw().end()},
      std::move(crosstalk), true);
}

std::vector<double> HeaterPhaseModel::PowersForPhases(
    std::span<const double> target_phases_rad) const {
  const int n = phase_count();
  if (!has_crosstalk_) {
    std::vector<double> power(n);
    for (int i = 0; i < n; ++i) power[i] = PowerForPhase(i, target_phases_rad[i]);
    return power;
  }
  // Solve (I + G) P = delta / eta by Jacobi iteration (G is small and
  // sparse); a channel whose power would go negative gets 2 pi more.
  std::vector<double> delta(n), power(n, 0.0), next(n);
  for (int i = 0; i < n; ++i) delta[i] = photonsim::WrapPhase(target_phases_rad[i] - bias_rad_[i]);
  for (int round = 0; round < 8; ++round) {
    for (int iteration = 0; iteration < 60; ++iteration) {
      double change = 0.0;
      for (int i = 0; i < n; ++i) {
        double felt = 0.0;
        for (const photonsim::CrosstalkEntry& e : crosstalk_[i]) {
          felt += e.coupling * power[e.source_heater];
        }
        next[i] = delta[i] / efficiency_rad_per_mw_[i] - felt;
        change = std::max(change, std::abs(next[i] - power[i]));
      }
      power.swap(next);
      if (change < 1e-12) break;
    }
    bool all_non_negative = true;
    for (int i = 0; i < n; ++i) {
      if (power[i] < 0.0) {
        delta[i] += photonsim::kTwoPi;
        all_non_negative = false;
      }
    }
    if (all_non_negative) break;
  }
  for (double& p : power) p = std::max(0.0, p);
  return power;
}

std::vector<double> HeaterPhaseModel::PhasesForPowers(std::span<const double> powers_mw) const {
  std::vector<double> phases(phase_count());
  if (!has_crosstalk_) {
    for (int i = 0; i < phase_count(); ++i) phases[i] = PhaseForPower(i, powers_mw[i]);
    return phases;
  }
  for (int i = 0; i < phase_count(); ++i) {
    double felt = powers_mw[i];
    for (const photonsim::CrosstalkEntry& e : crosstalk_[i]) {
      felt += e.coupling * powers_mw[e.source_heater];
    }
    phases[i] = photonsim::WrapPhase(bias_rad_[i] + efficiency_rad_per_mw_[i] * felt);
  }
  return phases;
}

}  // namespace phc::daemon
