#include "photonsim/chip_description.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace photonsim {
namespace {

absl::Status RequirePositive(absl::string_view field, double value) {
  if (!std::isfinite(value) || value <= 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chip description: ", field, " must be a positive finite number, got ", value));
  }
  return absl::OkStatus();
}

absl::Status RequireNonNegative(absl::string_view field, double value) {
  if (!std::isfinite(value) || value < 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chip description: ", field, " must be a non-negative finite number, got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateChipDescription(const photonic::v1::ChipDescription& chip) {
  if (chip.name().empty()) {
    return absl::InvalidArgumentError("chip description: name must not be empty");
  }
  if (chip.topology() != photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chip description: topology ", photonic::v1::MeshTopology_Name(chip.topology()),
        " is not supported (supported: MESH_TOPOLOGY_CLEMENTS)"));
  }
  if (chip.mesh_size() < 2 || chip.mesh_size() > kMaxMeshSize) {
    return absl::InvalidArgumentError(absl::StrCat("chip description: mesh_size must be in [2, ",
                                                   kMaxMeshSize, "], got ", chip.mesh_size()));
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
  for (const absl::Status& status : {
           RequirePositive("laser_power_mw", chip.laser_power_mw()),
           RequirePositive("heater.resistance_ohm", heater.resistance_ohm()),
           RequirePositive("heater.p_pi_mw", heater.p_pi_mw()),
           RequirePositive("heater.max_voltage_v", heater.max_voltage_v()),
           RequirePositive("heater.max_current_ma", heater.max_current_ma()),
           RequirePositive("modulator.v_pi_v", modulator.v_pi_v()),
           RequirePositive("modulator.max_voltage_v", modulator.max_voltage_v()),
           RequirePositive("detector.responsivity_a_per_w", detector.responsivity_a_per_w()),
           RequireNonNegative("detector.dark_current_na", detector.dark_current_na()),
           RequirePositive("max_total_heater_power_mw", chip.max_total_heater_power_mw()),
       }) {
    if (!status.ok()) return status;
  }
  if (modulator.max_voltage_v() < modulator.v_pi_v()) {
    return absl::InvalidArgumentError(
        absl::StrCat("chip description: modulator.max_voltage_v (", modulator.max_voltage_v(),
                     ") must be at least modulator.v_pi_v (", modulator.v_pi_v(),
                     ") to reach full transmission"));
  }
  return absl::OkStatus();
}

int PhaseShifterCount(const photonic::v1::ChipDescription& chip) {
  const int n = static_cast<int>(chip.mesh_size());
  return n * (n - 1);
}

}  // namespace photonsim
