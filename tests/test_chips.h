// Chip descriptions shared by tests: small, and ideal unless a test turns
// an imperfection on.
#pragma once

#include "photonic/v1/config.pb.h"

namespace phc::testing {

// A single ideal N x N Clements mesh: no fabrication spread, no crosstalk,
// instant settling, noiseless detection.
inline photonic::v1::ChipDescription IdealMeshChip(int mesh_size = 4) {
  photonic::v1::ChipDescription chip;
  chip.set_name("test-chip");
  auto* circuit = chip.add_circuits();
  circuit->set_name("mesh");
  circuit->mutable_mesh()->set_topology(photonic::v1::MESH_TOPOLOGY_CLEMENTS);
  circuit->mutable_mesh()->set_size(mesh_size);
  chip.set_laser_power_mw(1.0);
  chip.mutable_heater()->set_resistance_ohm(1000);
  chip.mutable_heater()->set_p_pi_mw(25);
  chip.mutable_heater()->set_max_voltage_v(10);
  chip.mutable_heater()->set_max_current_ma(10);
  chip.mutable_modulator()->set_v_pi_v(2.5);
  chip.mutable_modulator()->set_max_voltage_v(3);
  chip.mutable_detector()->set_responsivity_a_per_w(0.9);
  chip.mutable_detector()->set_dark_current_na(1);
  chip.set_max_total_heater_power_mw(200);
  chip.mutable_tec()->set_setpoint_c(25);
  return chip;
}

}  // namespace phc::testing
