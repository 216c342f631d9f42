// The numerical side of calibration, free of hardware: fitting heater
// efficiencies to single-heater sweeps, and phase biases (and crosstalk) to
// readings of random configurations through an ideal model of the circuit.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "photonsim/eigen.h"
#include "photonsim/hidden_truth.h"
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
};

struct BiasFitOptions {
  int sweeps = 12;   // coordinate sweeps after the restarts
  int restarts = 4;  // random starting points, 3 sweeps each; the best continues
  std::uint64_t seed = 1;
  // Called after each sweep with (sweeps done, sweeps in all, rms).
  std::function<void(int, int, double)> on_sweep;
};

struct BiasFitResult {
  std::vector<double> bias_rad;
  double rms_residual = 0.0;
};

// Phase of shifter i in configuration c: bias_i + eta_i (P_ci + sum_j G_ij P_cj).
// Fits the biases by exact coordinate minimisation: a reading through an
// MZI circuit is a first-order trigonometric polynomial in any one phase,
// so three model evaluations give the whole 1-D loss curve.
// crosstalk: circuit-local indices.
BiasFitResult FitPhaseBiases(photonsim::LinearCircuit& model, const BiasFitData& data,
                             const std::vector<double>& efficiency_rad_per_mw,
                             const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk,
                             const BiasFitOptions& options);

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
