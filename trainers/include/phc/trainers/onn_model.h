// An optical neural network mapped onto a chip's square circuits (MZI meshes
// or SVD cores). Layer l multiplies by a widths[l+1] x widths[l] matrix split
// into k x k blocks, one circuit each (k = the circuits' size). Inputs are
// field amplitudes on the modulators; every block's outputs are detected
// and the electronics sum the powers of a block row, so a layer computes
//   p_i = sum_j |(T_ij x_j)_i|^2,
// then re-encodes a = sqrt(p / max p) as the next layer's amplitudes (an
// electronic modulus nonlinearity with normalisation). The last layer's
// powers, normalised to sum 1 and times a temperature, are the logits.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_network.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/dataset.h"

namespace phc::trainers {

struct OnnArchitecture {
  std::vector<int> widths;  // features, hidden..., classes
  double temperature = 10.0;
  int first_circuit = 0;  // blocks take circuits first_circuit, first_circuit + 1, ...
};

struct OnnBlock {
  int layer = 0;
  int row = 0;  // block row (outputs row*k ...)
  int col = 0;  // block column (inputs col*k ...)
  int circuit = 0;
};

class OnnModel final : public ChipNetwork {
 public:
  // INVALID_ARGUMENT when the widths are unusable or the chip has too few
  // (or non-square, or mixed-size) circuits for the blocks.
  static absl::StatusOr<OnnModel> Create(const photonsim::ChipLayout& layout,
                                         const OnnArchitecture& architecture);

  const OnnArchitecture& architecture() const { return architecture_; }
  const std::vector<OnnBlock>& blocks() const { return blocks_; }
  int block_size() const { return k_; }
  // Chip-wide indices of the phases the model trains (its circuits' phases).
  const std::vector<int>& trainable_phases() const override { return trainable_; }
  // Aligned with trainable_phases(): whether the phase is an SVD core's
  // attenuator (Sigma) rather than a mesh phase.
  const std::vector<bool>& attenuator_phases() const override { return attenuator_; }
  // Queries per sample: one per layer (a layer's blocks run in parallel).
  int queries_per_sample() const { return static_cast<int>(architecture_.widths.size()) - 1; }

  // Logits, one row per row of `features`, with the chip's present phases.
  absl::StatusOr<Eigen::MatrixXd> Forward(ChipOracle& oracle,
                                          const Eigen::MatrixXd& features) const override;

 private:
  OnnModel() = default;

  OnnArchitecture architecture_;
  std::vector<OnnBlock> blocks_;
  std::vector<int> trainable_;
  std::vector<bool> attenuator_;
  int k_ = 0;
  std::vector<photonsim::CircuitLayout> circuits_;
  int chip_inputs_ = 0;
};

// Mean softmax cross-entropy of each logits row against its label.
double CrossEntropy(const Eigen::MatrixXd& logits, const std::vector<int>& labels);
// Fraction of rows whose largest logit is the label.
double Accuracy(const Eigen::MatrixXd& logits, const std::vector<int>& labels);

}  // namespace phc::trainers
