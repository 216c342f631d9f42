#include "photonsim/sim_chip.h"

#include <cassert>
#include <cmath>
#include <numbers>

#include "photonsim/chip_description.h"

namespace photonsim {

HiddenTruth NominalTruth(const photonic::v1::ChipDescription& chip) {
  const int phases = PhaseShifterCount(chip);
  HiddenTruth truth;
  truth.heater_resistance_ohm.assign(phases, chip.heater().resistance_ohm());
  truth.heater_efficiency_rad_per_mw.assign(phases, std::numbers::pi / chip.heater().p_pi_mw());
  truth.phase_bias_rad.assign(phases, 0.0);
  truth.splitting_error_rad.assign(phases, 0.0);  // two couplers per MZI, two phases per MZI
  truth.modulator_v_pi_v = chip.modulator().v_pi_v();
  truth.laser_power_mw = chip.laser_power_mw();
  truth.responsivity_a_per_w = chip.detector().responsivity_a_per_w();
  truth.dark_current_a = chip.detector().dark_current_na() * 1e-9;
  return truth;
}

absl::StatusOr<std::unique_ptr<SimChip>> SimChip::Create(const photonic::v1::ChipDescription& chip,
                                                         std::uint64_t /*seed*/) {
  if (absl::Status status = ValidateChipDescription(chip); !status.ok()) return status;
  return std::make_unique<SimChip>(chip, NominalTruth(chip));
}

SimChip::SimChip(const photonic::v1::ChipDescription& chip, HiddenTruth truth)
    : truth_(std::move(truth)),
      mesh_(static_cast<int>(chip.mesh_size())),
      heater_voltages_v_(mesh_.phase_count(), 0.0),
      modulator_voltages_v_(mesh_.mode_count(), 0.0) {}

void SimChip::SetHeaterVoltages(std::span<const int> channels, std::span<const double> volts_v) {
  assert(channels.size() == volts_v.size());
  for (std::size_t i = 0; i < channels.size(); ++i) {
    heater_voltages_v_.at(channels[i]) = volts_v[i];
  }
  mesh_stale_ = true;
}

void SimChip::SetModulatorVoltages(std::span<const double> volts_v) {
  assert(volts_v.size() == modulator_voltages_v_.size());
  modulator_voltages_v_.assign(volts_v.begin(), volts_v.end());
}

void SimChip::UpdateMesh() {
  std::vector<double> phases(heater_voltages_v_.size());
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const double v = heater_voltages_v_[i];
    const double power_mw = v * v / truth_.heater_resistance_ohm[i] * 1e3;
    phases[i] = truth_.phase_bias_rad[i] + truth_.heater_efficiency_rad_per_mw[i] * power_mw;
  }
  mesh_.SetPhases(phases, truth_.splitting_error_rad);
  mesh_stale_ = false;
}

std::vector<double> SimChip::ReadPhotocurrentsA(int averages) {
  assert(averages >= 1);
  (void)averages;  // the ideal chip is noiseless: every sample is the same
  if (mesh_stale_) UpdateMesh();
  MatrixXc fields(1, mesh_.mode_count());
  const double field_scale = std::sqrt(truth_.laser_power_mw);
  for (int i = 0; i < mesh_.mode_count(); ++i) {
    const double transmission =
        std::sin(std::numbers::pi / 2 * modulator_voltages_v_[i] / truth_.modulator_v_pi_v);
    fields(0, i) = field_scale * transmission;
  }
  mesh_.Propagate(fields);
  std::vector<double> currents_a(mesh_.mode_count());
  for (int k = 0; k < mesh_.mode_count(); ++k) {
    const double power_w = std::norm(fields(0, k)) * 1e-3;
    currents_a[k] = truth_.responsivity_a_per_w * power_w + truth_.dark_current_a;
  }
  return currents_a;
}

}  // namespace photonsim
