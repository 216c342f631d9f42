#include "photonsim/sim_chip.h"

#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>

#include "photonsim/chip_description.h"

namespace photonsim {
namespace {

double QuantiseDac(double volts, double full_scale_v, std::uint32_t bits) {
  if (bits == 0) return volts;
  const double lsb = full_scale_v / (std::ldexp(1.0, bits) - 1.0);
  return std::round(volts / lsb) * lsb;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SimChip>> SimChip::Create(const photonic::v1::ChipDescription& chip,
                                                         std::uint64_t seed) {
  if (absl::Status status = ValidateChipDescription(chip); !status.ok()) return status;
  return std::make_unique<SimChip>(chip, DrawHiddenTruth(chip, seed), seed ^ 0x9e3779b97f4a7c15ULL);
}

SimChip::SimChip(const photonic::v1::ChipDescription& chip, HiddenTruth truth,
                 std::uint64_t noise_seed)
    : description_(chip),
      layout_(BuildChipLayout(chip)),
      truth_(std::move(truth)),
      detector_(chip.detector()),
      noise_rng_(noise_seed),
      heater_volts_v_(layout_.phase_count, 0.0),
      target_power_mw_(layout_.phase_count, 0.0),
      effective_power_mw_(layout_.phase_count, 0.0),
      modulator_volts_v_(layout_.input_count, 0.0),
      tec_setpoint_c_(chip.tec().setpoint_c()) {
  for (const CircuitLayout& circuit : layout_.circuits) {
    circuits_.push_back(MakeOpticalCircuit(circuit));
    const std::span<const double> splitting(truth_.splitting_error_rad);
    const std::span<const double> amplitude(truth_.mzi_amplitude);
    circuits_.back()->SetImperfections(
        splitting.subspan(2 * circuit.first_mzi, 2 * circuit.mzi_count),
        amplitude.subspan(circuit.first_mzi, circuit.mzi_count));
  }
}

void SimChip::SetHeaterVoltages(std::span<const int> channels, std::span<const double> volts_v) {
  assert(channels.size() == volts_v.size());
  const auto& heater = description_.heater();
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const int ch = channels[i];
    const double v = QuantiseDac(volts_v[i], heater.max_voltage_v(), heater.dac_bits());
    heater_volts_v_.at(ch) = v;
    target_power_mw_[ch] = v * v / truth_.heater_resistance_ohm[ch] * 1e3;
    if (truth_.thermal_tau_s <= 0.0) effective_power_mw_[ch] = target_power_mw_[ch];
  }
  circuits_stale_ = true;
}

void SimChip::SetModulatorVoltages(std::span<const double> volts_v) {
  assert(volts_v.size() == modulator_volts_v_.size());
  const auto& modulator = description_.modulator();
  for (std::size_t i = 0; i < volts_v.size(); ++i) {
    modulator_volts_v_[i] =
        QuantiseDac(volts_v[i], modulator.max_voltage_v(), modulator.dac_bits());
  }
}

void SimChip::Advance(std::chrono::nanoseconds dt) {
  if (dt.count() <= 0) return;
  const double dt_s = std::chrono::duration<double>(dt).count();
  if (truth_.thermal_tau_s > 0.0) {
    const double approach = -std::expm1(-dt_s / truth_.thermal_tau_s);  // 1 - exp(-dt/tau)
    for (int i = 0; i < heater_count(); ++i) {
      const double gap = target_power_mw_[i] - effective_power_mw_[i];
      if (gap != 0.0) {
        effective_power_mw_[i] += gap * approach;
        circuits_stale_ = true;
      }
    }
  }
  // The held temperature wanders as an Ornstein-Uhlenbeck process with
  // standard deviation `stability_k`, sampled exactly over dt.
  const auto& tec = description_.tec();
  if (tec.stability_k() > 0.0) {
    const double decay = std::exp(-dt_s / tec.time_constant_s());
    std::normal_distribution<double> gauss(0.0, 1.0);
    temperature_offset_k_ = temperature_offset_k_ * decay +
                            tec.stability_k() * std::sqrt(1.0 - decay * decay) * gauss(noise_rng_);
    if (truth_.phase_drift_rad_per_k != 0.0) circuits_stale_ = true;
  }
  now_ += dt;
}

std::vector<double> SimChip::PhasesForTesting() const {
  std::vector<double> phases(heater_count());
  const double drift =
      truth_.phase_drift_rad_per_k * (temperature_c() - truth_.reference_temperature_c);
  for (int i = 0; i < heater_count(); ++i) {
    double felt_mw = effective_power_mw_[i];
    for (const CrosstalkEntry& e : truth_.crosstalk[i]) {
      felt_mw += e.coupling * effective_power_mw_[e.source_heater];
    }
    phases[i] = truth_.phase_bias_rad[i] + drift + truth_.heater_efficiency_rad_per_mw[i] * felt_mw;
  }
  return phases;
}

void SimChip::UpdateCircuits() {
  const std::vector<double> phases = PhasesForTesting();
  const std::span<const double> all(phases);
  if (built_phases_rad_.size() != phases.size()) {
    built_phases_rad_.assign(phases.size(), std::numeric_limits<double>::quiet_NaN());
  }
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    // Settling tails and TEC drift move every phase a little at every
    // step; moves below the resolution change no reading measurably and
    // are not worth rebuilding a circuit for.
    bool moved = false;
    for (int p = circuit.first_phase; p < circuit.first_phase + circuit.phase_count && !moved;
         ++p) {
      moved = !(std::abs(phases[p] - built_phases_rad_[p]) <= kOpticsPhaseResolutionRad);
    }
    if (!moved) continue;
    circuits_[c]->SetPhases(all.subspan(circuit.first_phase, circuit.phase_count));
    std::copy(phases.begin() + circuit.first_phase,
              phases.begin() + circuit.first_phase + circuit.phase_count,
              built_phases_rad_.begin() + circuit.first_phase);
  }
  circuits_stale_ = false;
}

std::vector<double> SimChip::ReadPhotocurrentsA(int averages) {
  assert(averages >= 1);
  if (circuits_stale_) UpdateCircuits();
  const double field_scale = std::sqrt(truth_.laser_power_mw);
  std::vector<double> inputs(modulator_count());
  for (int i = 0; i < modulator_count(); ++i) {
    inputs[i] = field_scale *
                std::sin(std::numbers::pi / 2 * modulator_volts_v_[i] / truth_.modulator_v_pi_v);
  }
  std::vector<double> positive_mw(detector_count());
  std::vector<double> negative_mw(detector_count());
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    circuits_[c]->Detect(
        std::span<const double>(inputs).subspan(circuit.first_input, circuit.input_count),
        std::span<double>(positive_mw).subspan(circuit.first_output, circuit.output_count),
        std::span<double>(negative_mw).subspan(circuit.first_output, circuit.output_count));
  }
  std::vector<double> currents_a(detector_count());
  for (const CircuitLayout& circuit : layout_.circuits) {
    const bool balanced = circuit.kind == CircuitKind::kMicroringBank;
    for (int k = circuit.first_output; k < circuit.first_output + circuit.output_count; ++k) {
      const double responsivity = truth_.responsivity_a_per_w[k];
      const double dark = truth_.dark_current_a[k];
      // Balanced pairs: the two dark currents cancel, their shot noise adds.
      const double mean_a =
          responsivity * (positive_mw[k] - negative_mw[k]) * 1e-3 + (balanced ? 0.0 : dark);
      const double through_diodes_a =
          responsivity * (positive_mw[k] + negative_mw[k]) * 1e-3 + (balanced ? 2 * dark : dark);
      currents_a[k] = detector_.Digitise(mean_a, through_diodes_a, averages, noise_rng_);
    }
  }
  const double sample_time_s = description_.detector().sample_time_us() * 1e-6;
  Advance(std::chrono::nanoseconds(static_cast<std::int64_t>(averages * sample_time_s * 1e9)));
  return currents_a;
}

}  // namespace photonsim
