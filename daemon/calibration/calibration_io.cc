#include "daemon/calibration/calibration_io.h"

#include <algorithm>
#include <cmath>
#include <complex>

namespace phc::daemon {

absl::StatusOr<Eigen::RowVectorXd> ReadFractions(ChipController& controller,
                                                 const photonsim::CircuitLayout& circuit,
                                                 int averages) {
  absl::StatusOr<DetectorReading> reading = controller.ReadDetectors(averages);
  if (!reading.ok()) return reading.status();
  Eigen::RowVectorXd fractions(circuit.output_count);
  for (int k = 0; k < circuit.output_count; ++k) {
    fractions(k) = std::max(0.0, reading->optical_power_mw[circuit.first_output + k]);
  }
  const double total = fractions.sum();
  if (total > 0.0) fractions /= total;
  return fractions;
}

absl::StatusOr<Eigen::RowVectorXd> ReadBalanced(ChipController& controller,
                                                const photonsim::CircuitLayout& circuit,
                                                int averages) {
  absl::StatusOr<DetectorReading> reading = controller.ReadDetectors(averages);
  if (!reading.ok()) return reading.status();
  const double lo_mw =
      circuit.spec.svd().lo_power_mw() > 0.0 ? circuit.spec.svd().lo_power_mw() : 1.0;
  const double scale = 2.0 * std::sqrt(controller.chip().laser_power_mw() * lo_mw);
  Eigen::RowVectorXd readings(circuit.output_count);
  for (int k = 0; k < circuit.output_count; ++k) {
    readings(k) = reading->optical_power_mw[circuit.first_output + k] / scale;
  }
  return readings;
}

absl::Status SetCircuitInputs(ChipController& controller, const photonsim::CircuitLayout& circuit,
                              const Eigen::RowVectorXcd& pattern) {
  std::vector<double> amplitudes(controller.input_count(), 0.0);
  for (int i = 0; i < circuit.input_count; ++i) {
    amplitudes[circuit.first_input + i] = std::abs(pattern(i));
  }
  return controller.SetInputs(amplitudes).status();
}

std::vector<double> SolveWithCrosstalk(const std::vector<std::vector<photonsim::CrosstalkEntry>>& g,
                                       const std::vector<double>& b) {
  std::vector<double> x = b, next(b.size());
  for (int round = 0; round < 100; ++round) {
    double change = 0.0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      next[i] = b[i];
      for (const photonsim::CrosstalkEntry& e : g[i]) next[i] -= e.coupling * x[e.source_heater];
      change = std::max(change, std::abs(next[i] - x[i]));
    }
    x.swap(next);
    if (change < 1e-12) break;
  }
  return x;
}

}  // namespace phc::daemon
