#include "photonsim/hidden_truth.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

namespace photonsim {
namespace {

// Trimmed shifters: no heater (infinite resistance), and the designed
// phase with the efficiency's relative error the draw gave. Trimming sets
// the phase after fabrication, so no phase bias remains.
void ApplyTrims(const photonic::v1::ChipDescription& chip, HiddenTruth& truth) {
  const double nominal_efficiency = std::numbers::pi / chip.heater().p_pi_mw();
  for (const auto& trim : chip.trimmed_phases()) {
    const auto p = static_cast<std::size_t>(trim.phase());
    truth.heater_resistance_ohm[p] = std::numeric_limits<double>::infinity();
    truth.phase_bias_rad[p] = 0.0;
    truth.trimmed_phase_rad[p] =
        trim.phase_rad() * truth.heater_efficiency_rad_per_mw[p] / nominal_efficiency;
  }
}

}  // namespace

HiddenTruth NominalTruth(const photonic::v1::ChipDescription& chip) {
  const ChipLayout layout = BuildChipLayout(chip);
  HiddenTruth truth;
  truth.heater_resistance_ohm.assign(layout.phase_count, chip.heater().resistance_ohm());
  truth.heater_efficiency_rad_per_mw.assign(layout.phase_count,
                                            std::numbers::pi / chip.heater().p_pi_mw());
  truth.phase_bias_rad.assign(layout.phase_count, 0.0);
  truth.crosstalk = CrosstalkFromGeometry(chip, layout);
  truth.trimmed_phase_rad.assign(layout.phase_count, 0.0);
  ApplyTrims(chip, truth);
  truth.splitting_error_rad.assign(2 * layout.mzi_count, 0.0);
  truth.mzi_amplitude.assign(layout.mzi_count,
                             std::pow(10.0, -chip.fabrication().insertion_loss_db_mean() / 20.0));
  truth.responsivity_a_per_w.assign(layout.output_count, chip.detector().responsivity_a_per_w());
  truth.dark_current_a.assign(layout.output_count, chip.detector().dark_current_na() * 1e-9);
  truth.modulator_v_pi_v = chip.modulator().v_pi_v();
  truth.laser_power_mw = chip.laser_power_mw();
  truth.thermal_tau_s = chip.thermal().tau_us() * 1e-6;
  truth.phase_drift_rad_per_k = chip.thermal().phase_drift_rad_per_k();
  truth.reference_temperature_c = chip.tec().setpoint_c();
  return truth;
}

HiddenTruth DrawHiddenTruth(const photonic::v1::ChipDescription& chip, std::uint64_t seed) {
  HiddenTruth truth = NominalTruth(chip);
  const auto& fab = chip.fabrication();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::uniform_real_distribution<double> uniform_phase(0.0, 2.0 * std::numbers::pi);
  // Relative spreads are clipped at 3 sigma so no draw is unphysical.
  auto spread = [&](double relative_std) {
    return 1.0 + relative_std * std::clamp(gauss(rng), -3.0, 3.0);
  };

  const ChipLayout layout = BuildChipLayout(chip);
  for (const CircuitLayout& circuit : layout.circuits) {
    for (int p = circuit.first_phase; p < circuit.first_phase + circuit.phase_count; ++p) {
      truth.heater_resistance_ohm[p] *= spread(fab.resistance_spread());
      truth.heater_efficiency_rad_per_mw[p] *= spread(fab.efficiency_spread());
      if (circuit.kind == CircuitKind::kMicroringBank) {
        const auto& bank = circuit.spec.microring_bank();
        truth.phase_bias_rad[p] =
            2.0 * std::numbers::pi *
            (bank.resonance_spread_fsr() * gauss(rng) - bank.resonance_offset_fsr());
      } else if (fab.random_phase_bias()) {
        truth.phase_bias_rad[p] = uniform_phase(rng);
      } else if (fab.phase_bias_std_rad() > 0.0) {
        truth.phase_bias_rad[p] = fab.phase_bias_std_rad() * gauss(rng);
      }
    }
  }
  for (double& e : truth.splitting_error_rad) e = fab.splitting_error_std_rad() * gauss(rng);
  for (double& a : truth.mzi_amplitude) {
    const double loss_db =
        std::max(0.0, fab.insertion_loss_db_mean() + fab.insertion_loss_db_std() * gauss(rng));
    a = std::pow(10.0, -loss_db / 20.0);
  }
  for (double& r : truth.responsivity_a_per_w) r *= spread(fab.responsivity_spread());
  for (double& d : truth.dark_current_a) d *= std::max(0.0, spread(fab.dark_current_spread()));
  ApplyTrims(chip, truth);
  return truth;
}

}  // namespace photonsim
