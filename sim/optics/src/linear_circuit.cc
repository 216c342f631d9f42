#include "photonsim/linear_circuit.h"

#include "photonsim/mzi.h"
#include "photonsim/mzi_mesh.h"

namespace photonsim {
namespace {

class MeshLinearCircuit final : public LinearCircuit {
 public:
  explicit MeshLinearCircuit(MziMesh mesh) : mesh_(std::move(mesh)) {}
  int mode_count() const override { return mesh_.mode_count(); }
  int phase_count() const override { return mesh_.phase_count(); }
  void SetPhases(std::span<const double> phases_rad) override { mesh_.SetPhases(phases_rad); }
  void Propagate(MatrixXc& fields) const override { mesh_.Propagate(fields); }

 private:
  MziMesh mesh_;
};

// [V-dagger mesh][n attenuator thetas][U mesh], as in SvdCoreTransfer; a
// coherent core adds [n LO phases psi] and the screen -i e^{-i psi_k}, as in
// CoherentSvdCoreTransfer (its balanced readings are the real part).
class SvdLinearCircuit final : public LinearCircuit {
 public:
  SvdLinearCircuit(int n, bool coherent_readout)
      : n_(n),
        coherent_(coherent_readout),
        v_(MziMesh::Clements(n)),
        u_(MziMesh::Clements(n)),
        attenuation_(n),
        screen_(coherent_readout ? n : 0) {}
  int mode_count() const override { return n_; }
  int phase_count() const override { return 2 * v_.phase_count() + n_ + (coherent_ ? n_ : 0); }
  void SetPhases(std::span<const double> phases_rad) override {
    const std::size_t mesh_phases = v_.phase_count();
    v_.SetPhases(phases_rad.subspan(0, mesh_phases));
    for (int k = 0; k < n_; ++k)
      attenuation_[k] = MziMatrix(phases_rad[mesh_phases + k], 0.0)(0, 0);
    u_.SetPhases(phases_rad.subspan(mesh_phases + n_, mesh_phases));
    for (int k = 0; k < static_cast<int>(screen_.size()); ++k) {
      screen_[k] = Complex(0.0, -1.0) * std::polar(1.0, -phases_rad[2 * mesh_phases + n_ + k]);
    }
  }
  void Propagate(MatrixXc& fields) const override {
    v_.Propagate(fields);
    for (int k = 0; k < n_; ++k) fields.col(k) *= attenuation_[k];
    u_.Propagate(fields);
    for (int k = 0; k < static_cast<int>(screen_.size()); ++k) fields.col(k) *= screen_[k];
  }

 private:
  int n_;
  bool coherent_;
  MziMesh v_;
  MziMesh u_;
  std::vector<Complex> attenuation_;
  std::vector<Complex> screen_;
};

}  // namespace

std::unique_ptr<LinearCircuit> MakeIdealLinearCircuit(const CircuitLayout& circuit) {
  switch (circuit.kind) {
    case CircuitKind::kMesh:
      return std::make_unique<MeshLinearCircuit>(MeshForCircuit(circuit.spec.mesh()));
    case CircuitKind::kSvd:
      return std::make_unique<SvdLinearCircuit>(circuit.size, HasCoherentReadout(circuit));
    case CircuitKind::kMicroringBank:
      return nullptr;
  }
  return nullptr;
}

}  // namespace photonsim
