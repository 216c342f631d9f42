#include "photonsim/svd_programming.h"

#include <Eigen/SVD>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "photonsim/clements_decomposition.h"
#include "photonsim/mzi.h"
#include "photonsim/mzi_mesh.h"
#include "photonsim/phase.h"

namespace photonsim {

absl::StatusOr<SvdCoreProgram> ProgramSvdCore(const MatrixXc& w) {
  const int n = static_cast<int>(w.rows());
  if (n < 2 || w.cols() != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ProgramSvdCore: need a square matrix of size >= 2, got ", w.rows(), "x", w.cols()));
  }
  if (!w.allFinite()) return absl::InvalidArgumentError("ProgramSvdCore: W is not finite");
  const Eigen::JacobiSVD<MatrixXc> svd(w, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const double s_max = svd.singularValues()(0);
  if (!(s_max > 0.0)) return absl::InvalidArgumentError("ProgramSvdCore: W is zero");

  const absl::StatusOr<MeshProgram> v_program = DecomposeClements(svd.matrixV().adjoint());
  if (!v_program.ok()) return v_program.status();

  // W = s_max U D_v P^-1 A M_v, with A the attenuators (P their phases).
  std::vector<double> thetas(n);
  MatrixXc x = svd.matrixU();
  for (int k = 0; k < n; ++k) {
    const double ratio = std::min(1.0, svd.singularValues()(k) / s_max);
    thetas[k] = 2.0 * std::asin(ratio);
    const Complex attenuator_phase = Complex(0.0, 1.0) * std::polar(1.0, thetas[k] / 2.0);
    x.col(k) *= std::polar(1.0, v_program->output_phases_rad[k]) / attenuator_phase;
  }
  const absl::StatusOr<MeshProgram> u_program = DecomposeClements(x);
  if (!u_program.ok()) return u_program.status();

  SvdCoreProgram program;
  program.scale = s_max;
  program.phases_rad = v_program->phases_rad;
  program.phases_rad.insert(program.phases_rad.end(), thetas.begin(), thetas.end());
  program.phases_rad.insert(program.phases_rad.end(), u_program->phases_rad.begin(),
                            u_program->phases_rad.end());
  program.output_phases_rad = u_program->output_phases_rad;
  return program;
}

absl::StatusOr<SvdCoreProgram> ProgramCoherentSvdCore(const Eigen::MatrixXd& w) {
  absl::StatusOr<SvdCoreProgram> program = ProgramSvdCore(w.cast<Complex>());
  if (!program.ok()) return program.status();
  // W / s_max = D T; the LO screen -i e^{-i psi_k} = e^{i d_k} replaces D.
  for (double& d : program->output_phases_rad) {
    program->phases_rad.push_back(WrapPhase(-d - std::numbers::pi / 2));
    d = 0.0;
  }
  return program;
}

MatrixXc SvdCoreTransfer(int n, const std::vector<double>& phases_rad) {
  MziMesh v = MziMesh::Clements(n);
  MziMesh u = MziMesh::Clements(n);
  const std::size_t mesh_phases = v.phase_count();
  const std::span<const double> all(phases_rad);
  v.SetPhases(all.subspan(0, mesh_phases));
  u.SetPhases(all.subspan(mesh_phases + n, mesh_phases));
  VectorXc attenuation(n);
  for (int k = 0; k < n; ++k) attenuation(k) = MziMatrix(phases_rad[mesh_phases + k], 0.0)(0, 0);
  return u.TransferMatrix() * attenuation.asDiagonal() * v.TransferMatrix();
}

MatrixXc CoherentSvdCoreTransfer(int n, const std::vector<double>& phases_rad) {
  const std::size_t svd_phases = SvdCorePhaseCount(n, false);
  const std::vector<double> core(phases_rad.begin(), phases_rad.begin() + svd_phases);
  VectorXc screen(n);
  for (int k = 0; k < n; ++k) {
    screen(k) = Complex(0.0, -1.0) * std::polar(1.0, -phases_rad[svd_phases + k]);
  }
  return screen.asDiagonal() * SvdCoreTransfer(n, core);
}

}  // namespace photonsim
