#include "photonsim/optical_circuit.h"

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "photonsim/microring.h"
#include "photonsim/mzi.h"
#include "photonsim/mzi_mesh.h"

namespace photonsim {
namespace {

void FieldsToPower(const MatrixXc& fields, std::span<double> positive_mw,
                   std::span<double> negative_mw) {
  for (Eigen::Index k = 0; k < fields.cols(); ++k) {
    positive_mw[k] = std::norm(fields(0, k));
    negative_mw[k] = 0.0;
  }
}

// fields (rows x n) <- the real input rows; returns whether every input is 0.
bool LoadFields(ConstRowsRef inputs, MatrixXc& fields) {
  fields.resize(inputs.rows(), inputs.cols());
  bool dark = true;
  for (Eigen::Index i = 0; i < inputs.cols(); ++i) {
    for (Eigen::Index r = 0; r < inputs.rows(); ++r) {
      fields(r, i) = inputs(r, i);
      dark = dark && inputs(r, i) == 0.0;
    }
  }
  return dark;
}

class MeshCircuitModel final : public OpticalCircuit {
 public:
  explicit MeshCircuitModel(MziMesh mesh)
      : mesh_(std::move(mesh)), fields_(1, mesh_.mode_count()) {}

  void SetImperfections(std::span<const double> splitting,
                        std::span<const double> amplitude) override {
    mesh_.SetImperfections(splitting, amplitude);
  }
  void SetPhases(std::span<const double> phases_rad) override { mesh_.SetPhases(phases_rad); }
  void SetCommonPhaseOffset(double offset_rad) override { mesh_.SetCommonPhaseOffset(offset_rad); }
  void Detect(std::span<const double> inputs, std::span<double> positive_mw,
              std::span<double> negative_mw) const override {
    for (int i = 0; i < mesh_.mode_count(); ++i) fields_(0, i) = inputs[i];
    mesh_.Propagate(fields_);
    FieldsToPower(fields_, positive_mw, negative_mw);
  }
  void DetectBatch(ConstRowsRef inputs, RowsRef positive_mw, RowsRef negative_mw) const override {
    LoadFields(inputs, batch_fields_);
    mesh_.Propagate(batch_fields_);
    positive_mw = batch_fields_.cwiseAbs2();
    negative_mw.setZero();
  }
  bool balanced() const override { return false; }

 private:
  MziMesh mesh_;
  mutable MatrixXc fields_;  // scratch, reused between calls
  mutable MatrixXc batch_fields_;
};

// Phases: [V^dagger mesh][n attenuator thetas][U mesh], then with coherent
// readout [n LO phases psi]; MZI slots in the same order (attenuators are
// MZIs whose top output is kept; a homodyne stage's slot holds its coupler's
// splitting error, first entry, and its LO arm's amplitude transmission).
//
// Homodyne stage k: the output field E (top input) and the LO field
// L = sqrt(P_LO) a_k e^{i psi_k} (bottom input) meet on a coupler
// [[c, i s], [i s, c]], c, s = cos, sin(pi/4 + error); the balanced pair
// reads the top port as positive, the bottom one as negative:
//   P+ - P- = cos(2 kappa) (|E|^2 - |L|^2) + 2 sin(2 kappa) Im(E conj(L)),
// i.e. 2 Im(E conj(L)) for an ideal coupler (svd_programming.h).
class SvdCircuitModel final : public OpticalCircuit {
 public:
  SvdCircuitModel(int n, bool coherent_readout, double lo_power_mw)
      : n_(n),
        coherent_(coherent_readout),
        v_(MziMesh::Clements(n)),
        u_(MziMesh::Clements(n)),
        attenuation_(n, Complex(1.0, 0.0)),
        attenuator_splitting_(2 * n, 0.0),
        attenuator_amplitude_(n, 1.0),
        attenuator_theta_rad_(n, 0.0),
        attenuator_theta_phasor_(n),
        attenuator_cc_(n),
        attenuator_ss_(n),
        lo_field_sqrt_mw_(std::sqrt(lo_power_mw)),
        homodyne_cos_(coherent_readout ? n : 0, std::cos(std::numbers::pi / 4)),
        homodyne_sin_(coherent_readout ? n : 0, std::sin(std::numbers::pi / 4)),
        lo_amplitude_(coherent_readout ? n : 0, 1.0),
        lo_psi_rad_(coherent_readout ? n : 0, 0.0),
        lo_field_(coherent_readout ? n : 0),
        fields_(1, n) {
    for (int k = 0; k < n; ++k) RebuildAttenuator(k);
    for (int k = 0; k < static_cast<int>(lo_field_.size()); ++k) RebuildLo(k);
  }

  void SetImperfections(std::span<const double> splitting,
                        std::span<const double> amplitude) override {
    const int mesh_mzis = v_.mzi_count();
    auto part = [](std::span<const double> all, std::size_t offset, std::size_t count) {
      return all.empty() ? std::span<const double>() : all.subspan(offset, count);
    };
    v_.SetImperfections(part(splitting, 0, 2 * mesh_mzis), part(amplitude, 0, mesh_mzis));
    if (!splitting.empty()) {
      auto s = splitting.subspan(2 * mesh_mzis, 2 * n_);
      attenuator_splitting_.assign(s.begin(), s.end());
    }
    if (!amplitude.empty()) {
      auto a = amplitude.subspan(mesh_mzis, n_);
      attenuator_amplitude_.assign(a.begin(), a.end());
    }
    for (int k = 0; k < n_; ++k) RebuildAttenuator(k);
    u_.SetImperfections(part(splitting, 2 * mesh_mzis + 2 * n_, 2 * mesh_mzis),
                        part(amplitude, mesh_mzis + n_, mesh_mzis));
    if (!coherent_) return;
    const std::size_t first_stage = 2 * mesh_mzis + n_;
    for (int k = 0; k < n_; ++k) {
      const double kappa =
          std::numbers::pi / 4 + (splitting.empty() ? 0.0 : splitting[2 * (first_stage + k)]);
      homodyne_cos_[k] = std::cos(kappa);
      homodyne_sin_[k] = std::sin(kappa);
      lo_amplitude_[k] = amplitude.empty() ? 1.0 : amplitude[first_stage + k];
      RebuildLo(k);
    }
  }

  void SetPhases(std::span<const double> phases_rad) override {
    const std::size_t mesh_phases = v_.phase_count();
    v_.SetPhases(phases_rad.subspan(0, mesh_phases));
    for (int k = 0; k < n_; ++k) {
      if (attenuator_theta_rad_[k] == phases_rad[mesh_phases + k]) continue;
      attenuator_theta_rad_[k] = phases_rad[mesh_phases + k];
      attenuator_theta_phasor_[k] = std::polar(1.0, attenuator_theta_rad_[k]);
      ApplyOffset(k);
    }
    u_.SetPhases(phases_rad.subspan(mesh_phases + n_, mesh_phases));
    if (!coherent_) return;
    for (int k = 0; k < n_; ++k) {
      const double psi = phases_rad[2 * mesh_phases + n_ + k];
      if (lo_psi_rad_[k] == psi) continue;
      lo_psi_rad_[k] = psi;
      RebuildLo(k);
    }
  }
  void SetCommonPhaseOffset(double offset_rad) override {
    v_.SetCommonPhaseOffset(offset_rad);
    u_.SetCommonPhaseOffset(offset_rad);
    if (offset_rad == offset_rad_) return;
    offset_rad_ = offset_rad;
    offset_phasor_ = std::polar(1.0, offset_rad);
    for (int k = 0; k < n_; ++k) ApplyOffset(k);
    for (int k = 0; k < static_cast<int>(lo_field_.size()); ++k) RebuildLo(k);
  }

  void Detect(std::span<const double> inputs, std::span<double> positive_mw,
              std::span<double> negative_mw) const override {
    // A dark core (every input 0, as for the cores of the layers a
    // time-multiplexed model is not running) has dark outputs: no need to
    // propagate. Exact, and most of a model's queries.
    bool dark = true;
    for (int i = 0; i < n_; ++i) {
      fields_(0, i) = inputs[i];
      dark = dark && inputs[i] == 0.0;
    }
    if (!dark) {
      v_.Propagate(fields_);
      for (int k = 0; k < n_; ++k) fields_(0, k) *= attenuation_[k];
      u_.Propagate(fields_);
    }
    if (!coherent_) {
      FieldsToPower(fields_, positive_mw, negative_mw);
      return;
    }
    for (int k = 0; k < n_; ++k) {
      Homodyne(k, fields_(0, k), positive_mw[k], negative_mw[k]);
    }
  }
  void DetectBatch(ConstRowsRef inputs, RowsRef positive_mw, RowsRef negative_mw) const override {
    // Dark rows stay dark through the meshes, so a batch with one lit row
    // is propagated whole, and an all-dark batch not at all.
    if (!LoadFields(inputs, batch_fields_)) {
      v_.Propagate(batch_fields_);
      for (int k = 0; k < n_; ++k) batch_fields_.col(k) *= attenuation_[k];
      u_.Propagate(batch_fields_);
    }
    if (!coherent_) {
      positive_mw = batch_fields_.cwiseAbs2();
      negative_mw.setZero();
      return;
    }
    for (int k = 0; k < n_; ++k) {
      for (Eigen::Index r = 0; r < batch_fields_.rows(); ++r) {
        Homodyne(k, batch_fields_(r, k), positive_mw(r, k), negative_mw(r, k));
      }
    }
  }
  bool balanced() const override { return coherent_; }

 private:
  // The balanced pair's two powers for output field e at stage k.
  void Homodyne(int k, Complex e, double& positive_mw, double& negative_mw) const {
    const Complex i(0.0, 1.0);
    const Complex l = lo_field_[k];
    positive_mw = std::norm(homodyne_cos_[k] * e + i * homodyne_sin_[k] * l);
    negative_mw = std::norm(i * homodyne_sin_[k] * e + homodyne_cos_[k] * l);
  }
  // LO field at homodyne stage k: sqrt(P_LO) a_k e^{i (psi_k + offset)}.
  void RebuildLo(int k) {
    lo_field_[k] =
        lo_field_sqrt_mw_ * lo_amplitude_[k] * std::polar(1.0, lo_psi_rad_[k]) * offset_phasor_;
  }
  // The attenuator's heater is its internal phase; it has no external one.
  // Its kept output is T00 = cc e^{i theta} - ss (mzi.h, CouplerTerms).
  void RebuildAttenuator(int k) {
    const MziCouplerTerms terms = CouplerTerms(
        attenuator_splitting_[2 * k], attenuator_splitting_[2 * k + 1], attenuator_amplitude_[k]);
    attenuator_theta_phasor_[k] = std::polar(1.0, attenuator_theta_rad_[k]);
    attenuator_cc_[k] = terms.cc;
    attenuator_ss_[k] = terms.ss;
    ApplyOffset(k);
  }
  void ApplyOffset(int k) {
    attenuation_[k] =
        attenuator_cc_[k] * attenuator_theta_phasor_[k] * offset_phasor_ - attenuator_ss_[k];
  }

  int n_;
  bool coherent_;
  MziMesh v_;
  MziMesh u_;
  std::vector<Complex> attenuation_;
  std::vector<double> attenuator_splitting_;
  std::vector<double> attenuator_amplitude_;
  std::vector<double> attenuator_theta_rad_;
  std::vector<Complex> attenuator_theta_phasor_;
  std::vector<double> attenuator_cc_, attenuator_ss_;
  double offset_rad_ = 0.0;
  Complex offset_phasor_{1.0, 0.0};
  // Homodyne stages (empty without coherent readout).
  double lo_field_sqrt_mw_;
  std::vector<double> homodyne_cos_, homodyne_sin_;
  std::vector<double> lo_amplitude_;
  std::vector<double> lo_psi_rad_;
  std::vector<Complex> lo_field_;
  mutable MatrixXc fields_;
  mutable MatrixXc batch_fields_;
};

class MicroringCircuitModel final : public OpticalCircuit {
 public:
  explicit MicroringCircuitModel(const photonic::v1::MicroringBankCircuit& spec)
      : bank_(static_cast<int>(spec.channels()), static_cast<int>(spec.rows()),
              {spec.self_coupling(), spec.round_trip_amplitude()}, spec.channel_spacing_fsr()),
        powers_(spec.channels()) {}

  void SetImperfections(std::span<const double>, std::span<const double>) override {}
  void SetPhases(std::span<const double> phases_rad) override { bank_.SetDetunings(phases_rad); }
  void SetCommonPhaseOffset(double offset_rad) override {
    bank_.SetCommonDetuningOffset(offset_rad);
  }
  void Detect(std::span<const double> inputs, std::span<double> positive_mw,
              std::span<double> negative_mw) const override {
    for (int k = 0; k < bank_.channels(); ++k) powers_[k] = inputs[k] * inputs[k];
    bank_.Detect(powers_, positive_mw, negative_mw);
  }
  bool balanced() const override { return true; }

 private:
  MicroringBank bank_;
  mutable std::vector<double> powers_;
};

}  // namespace

void OpticalCircuit::DetectBatch(ConstRowsRef input_fields, RowsRef positive_mw,
                                 RowsRef negative_mw) const {
  std::vector<double> inputs(input_fields.cols()), positive(positive_mw.cols()),
      negative(negative_mw.cols());
  for (Eigen::Index r = 0; r < input_fields.rows(); ++r) {
    for (Eigen::Index i = 0; i < input_fields.cols(); ++i) inputs[i] = input_fields(r, i);
    Detect(inputs, positive, negative);
    for (Eigen::Index k = 0; k < positive_mw.cols(); ++k) {
      positive_mw(r, k) = positive[k];
      negative_mw(r, k) = negative[k];
    }
  }
}

std::unique_ptr<OpticalCircuit> MakeOpticalCircuit(const CircuitLayout& circuit) {
  switch (circuit.kind) {
    case CircuitKind::kMesh:
      return std::make_unique<MeshCircuitModel>(MeshForCircuit(circuit.spec.mesh()));
    case CircuitKind::kSvd:
      return std::make_unique<SvdCircuitModel>(circuit.size, HasCoherentReadout(circuit),
                                               LoPowerMw(circuit.spec.svd()));
    case CircuitKind::kMicroringBank:
      return std::make_unique<MicroringCircuitModel>(circuit.spec.microring_bank());
  }
  return nullptr;
}

}  // namespace photonsim
