#include "daemon/web/dashboard_json.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <optional>

#include "photonsim/chip_layout.h"

namespace phc::daemon {

photonic::v1::DashboardChip DashboardChipOf(const ChipController& controller) {
  const photonic::v1::ChipDescription& chip = controller.chip();
  photonic::v1::DashboardChip out;
  out.set_name(chip.name());
  out.set_backend(controller.backend_name());
  out.set_phase_count(controller.phase_count());
  out.set_output_count(controller.output_count());
  const double max_v = chip.heater().max_voltage_v();
  out.set_max_channel_power_mw(max_v * max_v / chip.heater().resistance_ohm() * 1e3);
  out.set_power_ceiling_mw(chip.max_total_heater_power_mw());
  out.set_p_pi_mw(chip.heater().p_pi_mw());
  for (const photonsim::CircuitLayout& circuit : controller.layout().circuits) {
    photonic::v1::CircuitDrawing* drawing = out.add_circuits();
    drawing->set_name(circuit.name);
    drawing->set_kind(photonsim::CircuitKindName(circuit));
    drawing->set_size(circuit.size);
    drawing->set_first_phase(circuit.first_phase);
    drawing->set_first_output(circuit.first_output);
    drawing->set_output_count(circuit.output_count);
    for (const photonsim::HeaterPosition& position : photonsim::HeaterPositions(circuit)) {
      drawing->add_x_pitch(static_cast<float>(position.x_pitch));
      drawing->add_y_pitch(static_cast<float>(position.y_pitch));
    }
  }
  return out;
}

photonic::v1::DashboardState DashboardStateOf(const ChipSnapshot* snapshot,
                                              const ChipController& controller) {
  photonic::v1::DashboardState out;
  const std::shared_ptr<drivers::LinkHealth>& links = controller.links();
  out.set_links_up(links == nullptr || links->AllUp());
  out.set_links(links == nullptr ? "simulated instruments (no links to lose)" : links->Describe());
  out.set_query_configurations(controller.query_count());
  if (snapshot == nullptr) return out;
  out.set_snapshot_age_s(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - snapshot->taken).count());
  out.mutable_heater_power_mw()->Assign(snapshot->phases.heater_power_mw.begin(),
                                        snapshot->phases.heater_power_mw.end());
  out.set_total_heater_power_mw(snapshot->phases.total_heater_power_mw);
  out.set_budget_mw(snapshot->limits.max_total_power_mw);
  out.set_max_voltage_v(snapshot->limits.max_voltage_v);
  out.set_max_current_ma(snapshot->limits.max_current_ma);
  out.set_heater_energy_mj(snapshot->phases.heater_energy_mj);
  out.mutable_photocurrent_ua()->Assign(snapshot->photocurrent_ua.begin(),
                                        snapshot->photocurrent_ua.end());
  if (const std::optional<TemperatureReading>& tec = snapshot->temperature) {
    char text[96];
    std::snprintf(text, sizeof text, "%.3f \u00b0C (setpoint %.3f \u00b0C)%s", tec->temperature_c,
                  tec->setpoint_c, tec->drifting ? ", drifting" : "");
    out.set_temperature(text);
  }
  if (snapshot->calibration) {
    out.set_calibration_loaded(true);
    out.set_calibration_created_at(snapshot->calibration->created_at);
    out.set_efficiency_fit_rms(snapshot->calibration->efficiency_fit_rms);
    out.set_bias_fit_rms(snapshot->calibration->bias_fit_rms);
    out.set_fitted_phases(snapshot->calibration->fitted_phases);
  }
  for (const photonic::v1::SessionStatus& session : snapshot->sessions) {
    *out.add_sessions() = session;
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Our own messages always convert.
  const auto converted = google::protobuf::util::MessageToJsonString(message, &json, options);
  return converted.ok() ? json : "{}";
}

}  // namespace phc::daemon
