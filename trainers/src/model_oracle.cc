#include "phc/trainers/model_oracle.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "photonsim/phase.h"

namespace phc::trainers {

ModelOracle::ModelOracle(const photonic::v1::ChipDescription& chip)
    : layout_(photonsim::BuildChipLayout(chip)),
      laser_power_mw_(chip.laser_power_mw()),
      p_pi_mw_(chip.heater().p_pi_mw()),
      max_total_power_mw_(chip.max_total_heater_power_mw()),
      sample_seconds_(chip.detector().sample_time_us() * 1e-6),
      min_amplitude_(chip.modulator().bipolar() ? -1.0 : 0.0),
      phases_rad_(layout_.phase_count, 0.0) {
  for (const photonsim::CircuitLayout& circuit : layout_.circuits) {
    circuits_.push_back(photonsim::MakeOpticalCircuit(circuit));
    circuits_.back()->SetPhases(std::vector<double>(circuit.phase_count, 0.0));
  }
}

absl::Status ModelOracle::SetPhases(std::span<const double> phases_rad) {
  if (static_cast<int>(phases_rad.size()) != layout_.phase_count) {
    return absl::InvalidArgumentError(absl::StrCat("phases has ", phases_rad.size(),
                                                   " entries; the chip has ", layout_.phase_count));
  }
  for (std::size_t i = 0; i < phases_rad.size(); ++i) {
    if (!std::isfinite(phases_rad[i])) {
      return absl::InvalidArgumentError(absl::StrCat("phases[", i, "] is not finite"));
    }
  }
  const double power_mw = HeaterPowerMw(phases_rad);
  if (max_total_power_mw_ > 0.0 && power_mw > max_total_power_mw_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "total heater power ", power_mw, " mW exceeds the budget of ", max_total_power_mw_, " mW"));
  }
  phases_rad_.assign(phases_rad.begin(), phases_rad.end());
  heater_power_mw_ = power_mw;
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    const photonsim::CircuitLayout& circuit = layout_.circuits[c];
    circuits_[c]->SetPhases(phases_rad.subspan(circuit.first_phase, circuit.phase_count));
  }
  ++cost_.phase_writes;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> ModelOracle::Query(std::span<const double> amplitudes) {
  if (static_cast<int>(amplitudes.size()) != layout_.input_count) {
    return absl::InvalidArgumentError(absl::StrCat("amplitudes has ", amplitudes.size(),
                                                   " entries; the chip has ", layout_.input_count,
                                                   " inputs"));
  }
  std::vector<double> fields(amplitudes.size());
  for (std::size_t i = 0; i < amplitudes.size(); ++i) {
    if (!(amplitudes[i] >= min_amplitude_ && amplitudes[i] <= 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat("amplitudes[", i, "] = ", amplitudes[i],
                                                     " is outside [", min_amplitude_, ", 1]"));
    }
    fields[i] = amplitudes[i] * std::sqrt(laser_power_mw_);
  }
  std::vector<double> out(layout_.output_count, 0.0), negative(layout_.output_count, 0.0);
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    const photonsim::CircuitLayout& circuit = layout_.circuits[c];
    circuits_[c]->Detect(
        std::span<const double>(fields).subspan(circuit.first_input, circuit.input_count),
        std::span<double>(out).subspan(circuit.first_output, circuit.output_count),
        std::span<double>(negative).subspan(circuit.first_output, circuit.output_count));
  }
  for (std::size_t o = 0; o < out.size(); ++o) out[o] -= negative[o];
  ++cost_.queries;
  cost_.chip_seconds += sample_seconds_;
  cost_.heater_energy_mj += heater_power_mw_ * sample_seconds_;
  return out;
}

double ModelOracle::PhasePowerMw(int /*index*/, double phase_rad) const {
  return photonsim::WrapPhase(phase_rad) / std::numbers::pi * p_pi_mw_;
}

std::vector<double> ModelOracle::HeaterPowersMw(std::span<const double> phases_rad) const {
  std::vector<double> powers(phases_rad.size());
  for (std::size_t i = 0; i < phases_rad.size(); ++i) {
    powers[i] = PhasePowerMw(static_cast<int>(i), phases_rad[i]);
  }
  return powers;
}

double ModelOracle::HeaterPowerMw(std::span<const double> phases_rad) const {
  double total = 0.0;
  for (double p : HeaterPowersMw(phases_rad)) total += p;
  return total;
}

}  // namespace phc::trainers
