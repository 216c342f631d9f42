#include "photonsim/sim_chip.h"

#include <cmath>
#include <numbers>

#include "phc/base/check.h"
#include "photonsim/chip_description.h"

namespace photonsim {
namespace {

double QuantiseDac(double volts, double full_scale_v, std::uint32_t bits) {
  if (bits == 0) return volts;
  const double lsb = full_scale_v / (std::ldexp(1.0, bits) - 1.0);
  return std::round(volts / lsb) * lsb;
}

// A bipolar DAC over [-full_scale_v, full_scale_v]: codes -(2^(bits-1) - 1)
// .. 2^(bits-1) - 1 (the most negative two's-complement code unused), so
// 0 V and both ends are exact and round() (half away from zero) keeps
// Q(-V) = -Q(V). REQUIRES: bits != 1 (ValidateChipDescription).
double QuantiseBipolarDac(double volts, double full_scale_v, std::uint32_t bits) {
  if (bits == 0) return volts;
  const double lsb = full_scale_v / (std::ldexp(1.0, bits - 1) - 1.0);
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
  crosstalk_receivers_.resize(layout_.phase_count);
  for (int i = 0; i < layout_.phase_count; ++i) {
    for (const CrosstalkEntry& e : truth_.crosstalk[i])
      crosstalk_receivers_[e.source_heater].push_back(i);
  }
  circuit_of_phase_.assign(layout_.phase_count, 0);
  for (std::size_t c = 0; c < layout_.circuits.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    std::fill_n(circuit_of_phase_.begin() + circuit.first_phase, circuit.phase_count,
                static_cast<int>(c));
  }
  is_settling_.assign(layout_.phase_count, 0);
  has_moved_.assign(layout_.phase_count, 0);
  phase_affected_.assign(layout_.phase_count, 0);
  built_phases_rad_.assign(layout_.phase_count, 0.0);
  circuit_dirty_.assign(circuits_.size(), 0);
}

void SimChip::MarkPowerMoved(int heater) {
  if (!has_moved_[heater]) {
    has_moved_[heater] = 1;
    moved_heaters_.push_back(heater);
  }
}

void SimChip::SetHeaterVoltages(std::span<const int> channels, std::span<const double> volts_v) {
  PHC_CHECK(channels.size() == volts_v.size());
  const auto& heater = description_.heater();
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const int ch = channels[i];
    const double v = QuantiseDac(volts_v[i], heater.max_voltage_v(), heater.dac_bits());
    heater_volts_v_.at(ch) = v;
    const double target_mw = v * v / truth_.heater_resistance_ohm[ch] * 1e3;
    if (target_mw == target_power_mw_[ch]) continue;
    target_power_mw_[ch] = target_mw;
    if (truth_.thermal_tau_s <= 0.0) {
      effective_power_mw_[ch] = target_mw;
      MarkPowerMoved(ch);
    } else if (!is_settling_[ch]) {
      is_settling_[ch] = 1;
      settling_heaters_.push_back(ch);
    }
  }
}

void SimChip::SetModulatorVoltages(std::span<const double> volts_v) {
  PHC_CHECK(volts_v.size() == modulator_volts_v_.size());
  const auto& modulator = description_.modulator();
  for (std::size_t i = 0; i < volts_v.size(); ++i) {
    modulator_volts_v_[i] =
        modulator.bipolar()
            ? QuantiseBipolarDac(volts_v[i], modulator.max_voltage_v(), modulator.dac_bits())
            : QuantiseDac(volts_v[i], modulator.max_voltage_v(), modulator.dac_bits());
  }
}

void SimChip::Advance(std::chrono::nanoseconds dt) {
  if (dt.count() <= 0) return;
  const double dt_s = std::chrono::duration<double>(dt).count();
  if (truth_.thermal_tau_s > 0.0) {
    const double approach = -std::expm1(-dt_s / truth_.thermal_tau_s);  // 1 - exp(-dt/tau)
    std::size_t kept = 0;
    for (const int i : settling_heaters_) {
      const double gap = target_power_mw_[i] - effective_power_mw_[i];
      if (std::abs(gap * (1.0 - approach)) <= kSettledPowerMw) {
        effective_power_mw_[i] = target_power_mw_[i];
        is_settling_[i] = 0;
      } else {
        effective_power_mw_[i] += gap * approach;
        settling_heaters_[kept++] = i;
      }
      MarkPowerMoved(i);
    }
    settling_heaters_.resize(kept);
  }
  // The held temperature wanders as an Ornstein-Uhlenbeck process with
  // standard deviation `stability_k`, sampled exactly over dt.
  const auto& tec = description_.tec();
  if (tec.stability_k() > 0.0) {
    const double decay = std::exp(-dt_s / tec.time_constant_s());
    std::normal_distribution<double> gauss(0.0, 1.0);
    temperature_offset_k_ = temperature_offset_k_ * decay +
                            tec.stability_k() * std::sqrt(1.0 - decay * decay) * gauss(noise_rng_);
  }
  now_ += dt;
}

double SimChip::DriftRad() const {
  return truth_.phase_drift_rad_per_k * (temperature_c() - truth_.reference_temperature_c);
}

double SimChip::PhaseRad(int i, double drift_rad) const {
  double felt_mw = effective_power_mw_[i];
  for (const CrosstalkEntry& e : truth_.crosstalk[i]) {
    felt_mw += e.coupling * effective_power_mw_[e.source_heater];
  }
  return truth_.phase_bias_rad[i] + drift_rad + truth_.heater_efficiency_rad_per_mw[i] * felt_mw;
}

std::vector<double> SimChip::PhasesForTesting() const {
  std::vector<double> phases(heater_count());
  const double drift = DriftRad();
  for (int i = 0; i < heater_count(); ++i) phases[i] = PhaseRad(i, drift);
  return phases;
}

void SimChip::UpdateCircuits() {
  // Half the resolution for the common drift, half for each shifter's own
  // phase: every phase the optics use is within the resolution of the truth.
  constexpr double kHalf = kOpticsPhaseResolutionRad / 2;
  if (!built_) {
    for (int i = 0; i < heater_count(); ++i) built_phases_rad_[i] = PhaseRad(i, 0.0);
    circuit_dirty_.assign(circuits_.size(), 1);
  } else {
    // The shifters these heaters heat, each once.
    auto mark = [&](int i) {
      if (!phase_affected_[i]) {
        phase_affected_[i] = 1;
        affected_phases_.push_back(i);
      }
    };
    for (const int j : moved_heaters_) {
      mark(j);
      for (const int i : crosstalk_receivers_[j]) mark(i);
    }
    for (const int i : affected_phases_) {
      phase_affected_[i] = 0;
      const double phase = PhaseRad(i, 0.0);
      if (!(std::abs(phase - built_phases_rad_[i]) <= kHalf)) {
        built_phases_rad_[i] = phase;
        circuit_dirty_[circuit_of_phase_[i]] = 1;
      }
    }
    affected_phases_.clear();
  }
  for (const int j : moved_heaters_) has_moved_[j] = 0;
  moved_heaters_.clear();
  const std::span<const double> all(built_phases_rad_);
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    if (!circuit_dirty_[c]) continue;
    const CircuitLayout& circuit = layout_.circuits[c];
    circuits_[c]->SetPhases(all.subspan(circuit.first_phase, circuit.phase_count));
    circuit_dirty_[c] = 0;
  }
  const double drift = DriftRad();
  if (!built_ || !(std::abs(drift - built_drift_rad_) <= kHalf)) {
    built_drift_rad_ = drift;
    for (auto& circuit : circuits_) circuit->SetCommonPhaseOffset(drift);
  }
  built_ = true;
}

std::vector<double> SimChip::ReadPhotocurrentsA(int averages) {
  PHC_CHECK(averages >= 1);
  UpdateCircuits();
  const double field_scale = std::sqrt(truth_.laser_power_mw);
  std::vector<double>& inputs = input_fields_;
  inputs.resize(modulator_count());
  // t(V) = sin(pi/2 V / V_pi): negative below 0 V (bipolar modulators only).
  for (int i = 0; i < modulator_count(); ++i) {
    inputs[i] = field_scale *
                std::sin(std::numbers::pi / 2 * modulator_volts_v_[i] / truth_.modulator_v_pi_v);
  }
  std::vector<double>& positive_mw = positive_mw_;
  std::vector<double>& negative_mw = negative_mw_;
  positive_mw.assign(detector_count(), 0.0);
  negative_mw.assign(detector_count(), 0.0);
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    circuits_[c]->Detect(
        std::span<const double>(inputs).subspan(circuit.first_input, circuit.input_count),
        std::span<double>(positive_mw).subspan(circuit.first_output, circuit.output_count),
        std::span<double>(negative_mw).subspan(circuit.first_output, circuit.output_count));
  }
  std::vector<double> currents_a(detector_count());
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    // Microring banks' drop/through pairs, coherent cores' homodyne pairs.
    const bool balanced = circuits_[c]->balanced();
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
