// What the calibration stages share: reading a circuit's outputs as
// fractions (or balanced readings), lighting its inputs, and solving for heater powers with the
// design crosstalk fed forward.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "photonsim/chip_layout.h"
#include "photonsim/crosstalk_geometry.h"

namespace phc::daemon {

// Output powers of one circuit, normalised to sum 1 (all zero if dark).
absl::StatusOr<Eigen::RowVectorXd> ReadFractions(ChipController& controller,
                                                 const photonsim::CircuitLayout& circuit,
                                                 int averages);
// Balanced (homodyne) readings of a coherent SVD core's outputs, in units of
// Re(M x): divided by the ideal receiver's 2 sqrt(P_laser P_LO).
absl::StatusOr<Eigen::RowVectorXd> ReadBalanced(ChipController& controller,
                                                const photonsim::CircuitLayout& circuit,
                                                int averages);
// The circuit's inputs at |pattern| (others dark).
absl::Status SetCircuitInputs(ChipController& controller, const photonsim::CircuitLayout& circuit,
                              const Eigen::RowVectorXcd& pattern);
// Solves (I + G) x = b by Jacobi iteration (G: circuit-local couplings whose
// rows sum to well below one).
std::vector<double> SolveWithCrosstalk(const std::vector<std::vector<photonsim::CrosstalkEntry>>& g,
                                       const std::vector<double>& b);

}  // namespace phc::daemon
