#include "photonsim/chip_description.h"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "photonsim/chip_layout.h"

namespace photonsim {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view requirement, double value) {
  return absl::InvalidArgumentError(
      absl::StrCat("chip description: ", field, " must be ", requirement, ", got ", value));
}

absl::Status RequirePositive(absl::string_view field, double value) {
  if (std::isfinite(value) && value > 0.0) return absl::OkStatus();
  return Invalid(field, "a positive finite number", value);
}

absl::Status RequireInRange(absl::string_view field, double value, double low, double high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return Invalid(field, absl::StrCat("in [", low, ", ", high, "]"), value);
}

absl::Status ValidateCircuit(const photonic::v1::CircuitSpec& circuit, int index) {
  const std::string where = absl::StrCat("circuits[", index, "]");
  if (circuit.name().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("chip description: ", where, ".name is empty"));
  }
  switch (circuit.kind_case()) {
    case photonic::v1::CircuitSpec::kMesh: {
      const auto& mesh = circuit.mesh();
      const double n = mesh.size();
      if (n < 2 || n > kMaxMeshSize) {
        return Invalid(absl::StrCat(where, ".mesh.size"),
                       absl::StrCat("in [2, ", kMaxMeshSize, "]"), n);
      }
      if (mesh.topology() == photonic::v1::MESH_TOPOLOGY_UNSPECIFIED ||
          !photonic::v1::MeshTopology_IsValid(mesh.topology())) {
        return absl::InvalidArgumentError(
            absl::StrCat("chip description: ", where, ".mesh.topology must be set"));
      }
      if (mesh.topology() == photonic::v1::MESH_TOPOLOGY_BUTTERFLY &&
          (mesh.size() & (mesh.size() - 1)) != 0) {
        return Invalid(absl::StrCat(where, ".mesh.size"), "a power of two for a butterfly", n);
      }
      return absl::OkStatus();
    }
    case photonic::v1::CircuitSpec::kSvd: {
      const auto& svd = circuit.svd();
      const double n = svd.size();
      if (n < 2 || n > kMaxMeshSize) {
        return Invalid(absl::StrCat(where, ".svd.size"), absl::StrCat("in [2, ", kMaxMeshSize, "]"),
                       n);
      }
      if (!(std::isfinite(svd.lo_power_mw()) && svd.lo_power_mw() >= 0.0)) {
        return Invalid(absl::StrCat(where, ".svd.lo_power_mw"), "a finite number >= 0",
                       svd.lo_power_mw());
      }
      if (svd.lo_power_mw() != 0.0 && !svd.coherent_readout()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "chip description: ", where, ".svd.lo_power_mw (", svd.lo_power_mw(), ") is set but ",
            where, ".svd.coherent_readout is false: only a homodyne readout has an LO"));
      }
      return absl::OkStatus();
    }
    case photonic::v1::CircuitSpec::kMicroringBank: {
      const auto& bank = circuit.microring_bank();
      const std::string b = absl::StrCat(where, ".microring_bank.");
      for (absl::Status s : {
               RequireInRange(b + "channels", bank.channels(), 1, 1024),
               RequireInRange(b + "rows", bank.rows(), 1, 4096),
               RequireInRange(b + "self_coupling", bank.self_coupling(), 0.5, 0.9999),
               RequireInRange(b + "round_trip_amplitude", bank.round_trip_amplitude(), 0.5, 1.0),
               RequireInRange(b + "channel_spacing_fsr", bank.channel_spacing_fsr(), 1e-3,
                              1.0 / std::max(1u, bank.channels())),
               RequireInRange(b + "resonance_spread_fsr", bank.resonance_spread_fsr(), 0.0, 0.5),
           }) {
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("chip description: ", where, " needs a kind: mesh, svd or microring_bank"));
  }
}

}  // namespace

absl::Status ValidateChipDescription(const photonic::v1::ChipDescription& chip) {
  if (chip.name().empty()) {
    return absl::InvalidArgumentError("chip description: name must not be empty");
  }
  if (chip.circuits().empty()) {
    return absl::InvalidArgumentError("chip description: circuits must list at least one circuit");
  }
  for (int i = 0; i < chip.circuits_size(); ++i) {
    if (absl::Status s = ValidateCircuit(chip.circuits(i), i); !s.ok()) return s;
    if (chip.circuits(i).count() > 4096) {
      return Invalid(absl::StrCat("circuits[", i, "].count"), "at most 4096",
                     chip.circuits(i).count());
    }
  }
  if (!chip.has_heater()) return absl::InvalidArgumentError("chip description: heater is missing");
  if (!chip.has_modulator()) {
    return absl::InvalidArgumentError("chip description: modulator is missing");
  }
  if (!chip.has_detector()) {
    return absl::InvalidArgumentError("chip description: detector is missing");
  }
  const auto& heater = chip.heater();
  const auto& modulator = chip.modulator();
  const auto& detector = chip.detector();
  const auto& fab = chip.fabrication();
  const auto& thermal = chip.thermal();
  for (const absl::Status& status : {
           RequirePositive("laser_power_mw", chip.laser_power_mw()),
           RequirePositive("heater.resistance_ohm", heater.resistance_ohm()),
           RequirePositive("heater.p_pi_mw", heater.p_pi_mw()),
           RequirePositive("heater.max_voltage_v", heater.max_voltage_v()),
           RequirePositive("heater.max_current_ma", heater.max_current_ma()),
           RequireInRange("heater.dac_bits", heater.dac_bits(), 0, 24),
           RequireInRange("heater.max_step_v", heater.max_step_v(), 0, 1e3),
           RequirePositive("modulator.v_pi_v", modulator.v_pi_v()),
           RequirePositive("modulator.max_voltage_v", modulator.max_voltage_v()),
           RequireInRange("modulator.dac_bits", modulator.dac_bits(), 0, 24),
           RequirePositive("detector.responsivity_a_per_w", detector.responsivity_a_per_w()),
           RequireInRange("detector.dark_current_na", detector.dark_current_na(), 0, 1e6),
           RequireInRange("detector.tia_gain_ohm", detector.tia_gain_ohm(), 0, 1e9),
           RequireInRange("detector.bandwidth_hz", detector.bandwidth_hz(), 0, 1e12),
           RequireInRange("detector.temperature_k", detector.temperature_k(), 0, 1000),
           RequireInRange("detector.adc_bits", detector.adc_bits(), 0, 24),
           RequireInRange("detector.adc_full_scale_v", detector.adc_full_scale_v(), 0, 1e3),
           RequireInRange("detector.sample_time_us", detector.sample_time_us(), 0, 1e6),
           RequirePositive("max_total_heater_power_mw", chip.max_total_heater_power_mw()),
           RequireInRange("fabrication.resistance_spread", fab.resistance_spread(), 0, 0.3),
           RequireInRange("fabrication.efficiency_spread", fab.efficiency_spread(), 0, 0.3),
           RequireInRange("fabrication.splitting_error_std_rad", fab.splitting_error_std_rad(), 0,
                          0.3),
           RequireInRange("fabrication.phase_bias_std_rad", fab.phase_bias_std_rad(), 0, 1),
           RequireInRange("fabrication.insertion_loss_db_mean", fab.insertion_loss_db_mean(), 0,
                          10),
           RequireInRange("fabrication.insertion_loss_db_std", fab.insertion_loss_db_std(), 0, 3),
           RequireInRange("fabrication.responsivity_spread", fab.responsivity_spread(), 0, 0.3),
           RequireInRange("fabrication.dark_current_spread", fab.dark_current_spread(), 0, 1),
           RequireInRange("thermal.crosstalk_nearest", thermal.crosstalk_nearest(), 0, 0.5),
           RequireInRange("thermal.crosstalk_decay_pitch", thermal.crosstalk_decay_pitch(), 0, 100),
           RequireInRange("thermal.crosstalk_cutoff_pitch", thermal.crosstalk_cutoff_pitch(), 0,
                          20),
           RequireInRange("thermal.tau_us", thermal.tau_us(), 0, 1e6),
           RequireInRange("thermal.phase_drift_rad_per_k", thermal.phase_drift_rad_per_k(), -10,
                          10),
           RequireInRange("tec.setpoint_c", chip.tec().setpoint_c(), -40, 120),
           RequireInRange("tec.stability_k", chip.tec().stability_k(), 0, 10),
           RequireInRange("tec.time_constant_s", chip.tec().time_constant_s(), 0, 1e4),
       }) {
    if (!status.ok()) return status;
  }
  if (modulator.max_voltage_v() < modulator.v_pi_v()) {
    return absl::InvalidArgumentError(
        absl::StrCat("chip description: modulator.max_voltage_v (", modulator.max_voltage_v(),
                     ") must be at least modulator.v_pi_v (", modulator.v_pi_v(),
                     ") to reach full transmission"));
  }
  if (modulator.bipolar() && modulator.dac_bits() == 1) {
    return Invalid("modulator.dac_bits", "0 or at least 2 for a bipolar modulator",
                   modulator.dac_bits());
  }
  if (thermal.crosstalk_nearest() > 0 && thermal.crosstalk_decay_pitch() <= 0) {
    return Invalid("thermal.crosstalk_decay_pitch", "positive when crosstalk_nearest > 0",
                   thermal.crosstalk_decay_pitch());
  }
  if (detector.tia_gain_ohm() > 0 &&
      (detector.adc_bits() == 0 || detector.adc_full_scale_v() <= 0 ||
       detector.bandwidth_hz() <= 0)) {
    return absl::InvalidArgumentError(
        "chip description: a detector with tia_gain_ohm needs adc_bits, adc_full_scale_v and "
        "bandwidth_hz");
  }
  if (chip.tec().stability_k() > 0 && chip.tec().time_constant_s() <= 0) {
    return Invalid("tec.time_constant_s", "positive when tec.stability_k > 0",
                   chip.tec().time_constant_s());
  }
  const ChipLayout layout = BuildChipLayout(chip);
  if (layout.phase_count > kMaxPhaseShifters) {
    return Invalid("circuits", absl::StrCat("at most ", kMaxPhaseShifters, " phase shifters"),
                   layout.phase_count);
  }
  std::vector<bool> trimmed(static_cast<std::size_t>(layout.phase_count), false);
  for (int i = 0; i < chip.trimmed_phases_size(); ++i) {
    const auto& trim = chip.trimmed_phases(i);
    const std::string field = absl::StrCat("trimmed_phases[", i, "]");
    if (trim.phase() >= static_cast<std::uint32_t>(layout.phase_count)) {
      return Invalid(field + ".phase", absl::StrCat("below the phase count ", layout.phase_count),
                     trim.phase());
    }
    if (trimmed[trim.phase()]) return Invalid(field + ".phase", "listed once", trim.phase());
    trimmed[trim.phase()] = true;
    if (!(trim.phase_rad() >= 0.0 && trim.phase_rad() < 2.0 * std::numbers::pi)) {
      return Invalid(field + ".phase_rad", "in [0, 2 pi)", trim.phase_rad());
    }
  }
  return absl::OkStatus();
}

}  // namespace photonsim
