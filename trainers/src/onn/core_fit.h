// The measurements and fits in situ programming is made of (internal to
// in_situ_programming.cc; a header so that each piece is small and tested
// through ProgramCoresInSitu).
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn::core_fit {

// One model core on its chip circuit: the rows and columns the model uses
// and the real matrix they must realise.
struct CoreTarget {
  int first_phase = 0;  // the circuit's, chip-wide
  int first_input = 0;
  int first_output = 0;
  int rows = 0;
  int cols = 0;
  Eigen::MatrixXd target;  // rows x cols, Re(M) of the ideal core
  double nominal_gain = 0.0;
};

// The model's cores in placement order.
std::vector<CoreTarget> CoreTargets(Model& model, const ChipPlacement& placement,
                                    const photonsim::ChipLayout& layout);

// Every core's measured matrix (reading with unit input j minus the dark
// reading) and the dark readings of every chip output.
struct Measurement {
  std::vector<Eigen::MatrixXd> matrices;
  std::vector<double> dark_mw;
};

// k + 1 queries (added to `queries`), all cores at once.
absl::StatusOr<Measurement> MeasureCores(ChipOracle& oracle, const std::vector<CoreTarget>& cores,
                                         int k, std::int64_t& queries);

// ||diag(g) R - T||_F / ||T||_F (or the plain norm for a zero target).
double Residual(const Eigen::MatrixXd& measured, const Eigen::VectorXd& gains,
                const Eigen::MatrixXd& target);

// A row's scale can move between its receiver gain and the core's matrix at
// no cost whenever the scaled matrix is still realisable, so the gains are
// pulled weakly towards nominal: the refinement minimises, per core,
//   sum_ij (g_i R_ij - T_ij)^2 + kGainPull sum_i |T_i|^2 (g_i / g0 - 1)^2.
// They leave nominal only as far as the chip needs (insertion loss, receiver
// spread).
inline constexpr double kGainPull = 0.01;
double Objective(const Eigen::MatrixXd& measured, const Eigen::VectorXd& gains,
                 const CoreTarget& core);

// Fills `residuals` (one per core) and returns their mean.
double Residuals(const Measurement& measured, const std::vector<CoreTarget>& cores,
                 const std::vector<Eigen::VectorXd>& gains, std::vector<double>& residuals);

// One Levenberg-Marquardt step on a core's phases and receiver gains (phases
// first, then one gain per row): -J^T (J J^T + lambda I)^-1 e for the
// residuals of Objective, with lambda = damping * mean diag(J J^T).
// d_measured_d_phase: (rows * cols) x phases, row i * cols + j.
Eigen::VectorXd LevenbergMarquardtStep(const Eigen::MatrixXd& measured,
                                       const Eigen::MatrixXd& d_measured_d_phase,
                                       const Eigen::VectorXd& gains, const CoreTarget& core,
                                       double damping);

// The phase that minimises Objective over one phase of a core, from its
// readings at base, base + 2 pi / 3 and base + 4 pi / 3: every reading is
// a + b cos(t) + c sin(t) in that phase, so the objective is a second-order
// trigonometric polynomial in it (minimised on a grid, then by golden
// section). Returns a phase in [0, 2 pi).
double BestSinglePhase(const std::array<const Eigen::MatrixXd*, 3>& readings, double base,
                       const Eigen::VectorXd& gains, const CoreTarget& core);

}  // namespace phc::trainers::onn::core_fit
