// A structured first estimate of a Clements mesh's phase biases, column by
// column, with the mesh's own MZIs as routers (external detectors only;
// after Alexiev et al., OSA Continuum 2021, and Miller's progressive
// self-configuration):
//   A. theta biases from the output side back: every later column at bar,
//      each MZI of column c swept (two interleaved groups, beyond the
//      crosstalk cutoff of each other) at phi and phi + pi and the two
//      readings averaged (the interference term cancels), a closed-form sine
//      fit of R_t - R_t+1 per upstream state; states combined as sum z^2
//      (theta mod pi); the remaining pi (cross or bar) of column c+1 settled
//      by where column c's fringes land; column 0 from known unequal inputs;
//   B. phi biases from the input side forward: everything at bar, the group
//      under test at theta = pi/2, all inputs lit; the measured fringe
//      against the ideal model of the columns already estimated.
// Every configuration is set through the design crosstalk (fed forward).
// The result starts the least-squares polish (RefineBiasesAndEfficiencies).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "photonsim/chip_layout.h"
#include "photonsim/linear_circuit.h"

namespace phc::daemon {

struct PeelOptions {
  int averages = 16;
  int states = 4;        // upstream random states per column (theta)
  int theta_points = 8;  // sweep points per turn
  int phi_points = 12;
  std::uint64_t seed = 1;
};

// Circuit-local biases (2 per MZI: theta, phi). REQUIRES: a Clements mesh,
// on the hardware thread. `readings` is increased by the readings taken.
absl::StatusOr<std::vector<double>> PeelMeshBiases(
    ChipController& controller, const photonsim::CircuitLayout& circuit,
    const std::vector<double>& efficiency,
    const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk,
    const PeelOptions& options, const std::function<absl::Status()>& check_cancel, int* readings);

}  // namespace phc::daemon
