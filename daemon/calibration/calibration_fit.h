// The numerical side of calibration, free of hardware: fitting heater
// efficiencies to single-heater sweeps, and phase biases (and crosstalk) to
// readings of random configurations through an ideal model of the circuit.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "photonsim/chip_layout.h"
#include "photonsim/crosstalk_geometry.h"
#include "photonsim/eigen.h"
#include "photonsim/linear_circuit.h"

namespace phc::daemon {

struct SweepFit {
  double efficiency_rad_per_mw = 0.0;
  double rms_residual = 0.0;  // of the normalised readings
  double visibility = 0.0;    // largest fitted amplitude over the outputs
};

// Fits every output's reading R_k(P) = A_k + B_k cos(w P + c_k) with one
// common w over [0.7, 1.4] x nominal_efficiency (grid, then golden section).
// readings: points x outputs, normalised.
SweepFit FitSweepFrequency(std::span<const double> powers_mw, const Eigen::MatrixXd& readings,
                           double nominal_efficiency_rad_per_mw);

// Readings of one circuit under many heater configurations.
struct BiasFitData {
  photonsim::MatrixXc patterns;                // Q x N input fields
  std::vector<std::vector<double>> powers_mw;  // per configuration, per phase of the circuit
  std::vector<Eigen::MatrixXd> measured;       // per configuration, Q x N, rows sum to 1
  // For reading (q, k) at q * N + k: the phases it depends on. Empty: all.
  std::vector<std::vector<int>> dependencies;
};

// The phases each reading (pattern q, output k) depends on: those of the
// elements both in the forward light cone of the pattern's lit inputs and in
// the backward light cone of output k. REQUIRES: a mesh or SVD circuit.
std::vector<std::vector<int>> ReadingDependencies(const photonsim::CircuitLayout& circuit,
                                                  const photonsim::MatrixXc& patterns);

struct BiasFitOptions {
  int restarts = 8;               // random starts per growth step at most
  int sweeps = 8;                 // coordinate sweeps from each start at most
  int polish_iterations = 8;      // then Levenberg-Marquardt on biases and efficiencies
  double good_enough_rms = 0.02;  // a start that fits this well ends a step's search
  std::uint64_t seed = 1;
  // If set, each configuration gets its own model of this circuit (faster).
  const photonsim::CircuitLayout* circuit = nullptr;
  // Called after each growth step with (phases placed, phases, rms so far).
  std::function<void(int, int, double)> on_progress;
};

struct BiasFitResult {
  std::vector<double> bias_rad;
  std::vector<double> efficiency_rad_per_mw;
  double rms_residual = 0.0;
  int restarts_used = 0;
};

// Phase of shifter i in configuration c: bias_i + eta_i (P_ci + sum_j G_ij P_cj).
// The loss over all phases at once has wide plateaus and local minima, so the
// biases are found progressively: start with the readings that depend on the
// fewest phases, fit those phases (random starts, exact coordinate
// minimisation: a reading through an MZI circuit is a first-order
// trigonometric polynomial in any one phase, so three model evaluations give
// the whole 1-D loss curve), then add the readings that bring in the fewest
// new phases, and so on. Levenberg-Marquardt on biases and efficiencies
// finishes.
// crosstalk: circuit-local indices.
BiasFitResult FitPhaseBiases(photonsim::LinearCircuit& model, const BiasFitData& data,
                             const std::vector<double>& efficiency_rad_per_mw,
                             const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk,
                             const BiasFitOptions& options);

// What RefineBiasesAndEfficiencies may change and which readings count.
struct RefineScope {
  const Eigen::MatrixXd* mask = nullptr;  // Q x N weights of the readings; null: all
  std::vector<int> free_phases;           // biases that move; empty: all
  bool fit_efficiency = true;             // efficiencies of the free phases move too
};

// Levenberg-Marquardt on biases and efficiencies together, from the given
// values (updated in place); the Jacobian column of a bias comes from one
// forward difference, an efficiency's by the chain rule. Returns the RMS of
// the counted readings.
double RefineBiasesAndEfficiencies(
    photonsim::LinearCircuit& model, const BiasFitData& data, std::vector<double>& bias_rad,
    std::vector<double>& efficiency_rad_per_mw,
    const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk, int iterations,
    const RefineScope& scope = {});

// RMS residual of a bias/efficiency/crosstalk model on the data.
double BiasFitRms(photonsim::LinearCircuit& model, const BiasFitData& data,
                  const std::vector<double>& bias_rad,
                  const std::vector<double>& efficiency_rad_per_mw,
                  const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk);

// Normalised output powers of the model for every pattern (rows sum to the
// pattern's power, 1 for unit patterns).
Eigen::MatrixXd ModelPowers(photonsim::LinearCircuit& model, const photonsim::MatrixXc& patterns,
                            std::span<const double> phases_rad);

}  // namespace phc::daemon
