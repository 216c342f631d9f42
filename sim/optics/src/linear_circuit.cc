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

// [V-dagger mesh][n attenuator thetas][U mesh], as in SvdCoreTransfer.
class SvdLinearCircuit final : public LinearCircuit {
 public:
  explicit SvdLinearCircuit(int n)
      : n_(n), v_(MziMesh::Clements(n)), u_(MziMesh::Clements(n)), attenuation_(n) {}
  int mode_count() const override { return n_; }
  int phase_count() const override { return 2 * v_.phase_count() + n_; }
  void SetPhases(std::span<const double> phases_rad) override {
    const std::size_t mesh_phases = v_.phase_count();
    v_.SetPhases(phases_rad.subspan(0, mesh_phases));
    for (int k = 0; k < n_; ++k)
      attenuation_[k] = MziMatrix(phases_rad[mesh_phases + k], 0.0)(0, 0);
    u_.SetPhases(phases_rad.subspan(mesh_phases + n_, mesh_phases));
  }
  void Propagate(MatrixXc& fields) const override {
    v_.Propagate(fields);
    for (int k = 0; k < n_; ++k) fields.col(k) *= attenuation_[k];
    u_.Propagate(fields);
  }

 private:
  int n_;
  MziMesh v_;
  MziMesh u_;
  std::vector<Complex> attenuation_;
};

}  // namespace

std::unique_ptr<LinearCircuit> MakeIdealLinearCircuit(const CircuitLayout& circuit) {
  switch (circuit.kind) {
    case CircuitKind::kMesh:
      return std::make_unique<MeshLinearCircuit>(MeshForCircuit(circuit.spec.mesh()));
    case CircuitKind::kSvd:
      return std::make_unique<SvdLinearCircuit>(circuit.size);
    case CircuitKind::kMicroringBank:
      return nullptr;
  }
  return nullptr;
}

}  // namespace photonsim
