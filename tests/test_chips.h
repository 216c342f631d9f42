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

// Instruments that onn::ChipForModel makes a model's chip from: IdealMeshChip's
// heaters around a 4x4 mesh (12 phases), a 2 mW laser, 2.5 V modulators, no
// dark current, and `budget_mw` of heater power for the mesh (ChipForModel
// scales it to the model's phases).
inline photonic::v1::ChipDescription ModelInstruments(double budget_mw) {
  photonic::v1::ChipDescription chip = IdealMeshChip(4);
  chip.set_name("template");
  chip.set_laser_power_mw(2.0);
  chip.mutable_modulator()->set_max_voltage_v(2.5);
  chip.mutable_detector()->set_dark_current_na(0);
  chip.set_max_total_heater_power_mw(budget_mw);
  return chip;
}

// `chip` with the fabrication errors, thermal crosstalk and detector noise
// of deploy/chips/onn_svd8x24.textproto.
inline photonic::v1::ChipDescription WithOnnSvd8x24Errors(photonic::v1::ChipDescription chip) {
  auto* fabrication = chip.mutable_fabrication();
  fabrication->set_resistance_spread(0.05);
  fabrication->set_efficiency_spread(0.05);
  fabrication->set_random_phase_bias(true);
  fabrication->set_splitting_error_std_rad(0.015);
  fabrication->set_insertion_loss_db_mean(0.2);
  fabrication->set_insertion_loss_db_std(0.05);
  fabrication->set_responsivity_spread(0.03);
  fabrication->set_dark_current_spread(0.2);
  auto* thermal = chip.mutable_thermal();
  thermal->set_crosstalk_nearest(0.03);
  thermal->set_crosstalk_decay_pitch(1.0);
  thermal->set_crosstalk_cutoff_pitch(3.0);
  thermal->set_tau_us(5);
  auto* detector = chip.mutable_detector();
  detector->set_tia_gain_ohm(250);
  detector->set_bandwidth_hz(1e6);
  detector->set_temperature_k(300);
  detector->set_adc_bits(16);
  detector->set_adc_full_scale_v(2.5);
  detector->set_sample_time_us(1);
  return chip;
}

}  // namespace phc::testing
