// The ideal 8x8 chip the end-to-end tests and the soak run on.
#pragma once

namespace phc {

// An ideal 8x8 chip (no fabrication errors, crosstalk or noise): its readings
// follow the nominal values exactly, and two runs of one session on it are
// bit-identical.
inline constexpr char kIdealChip[] = R"pb(
  name: "ideal8"
  circuits {
    name: "mesh"
    mesh { topology: MESH_TOPOLOGY_CLEMENTS size: 8 }
  }
  laser_power_mw: 1
  heater { resistance_ohm: 1000 p_pi_mw: 22.5 max_voltage_v: 10 max_current_ma: 10 }
  modulator { v_pi_v: 2.5 max_voltage_v: 3 }
  detector { responsivity_a_per_w: 0.9 dark_current_na: 1 }
  max_total_heater_power_mw: 1500
)pb";

}  // namespace phc
