#include "phc/trainers/onn_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace phc::trainers {

absl::StatusOr<OnnModel> OnnModel::Create(const photonsim::ChipLayout& layout,
                                          const OnnArchitecture& architecture) {
  const std::vector<int>& widths = architecture.widths;
  if (widths.size() < 2) {
    return absl::InvalidArgumentError("widths needs at least the feature and class counts");
  }
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (widths[i] < 1 || widths[i] > 4096) {
      return absl::InvalidArgumentError(
          absl::StrCat("widths[", i, "] = ", widths[i], " must be in [1, 4096]"));
    }
  }
  if (widths.back() < 2) return absl::InvalidArgumentError("the last width (classes) must be >= 2");
  if (!(architecture.temperature > 0.0 && architecture.temperature <= 1000.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature = ", architecture.temperature, " must be in (0, 1000]"));
  }
  const int circuit_count = static_cast<int>(layout.circuits.size());
  if (architecture.first_circuit < 0 || architecture.first_circuit >= circuit_count) {
    return absl::InvalidArgumentError(absl::StrCat("first_circuit = ", architecture.first_circuit,
                                                   " but the chip has ", circuit_count,
                                                   " circuits"));
  }
  const photonsim::CircuitLayout& first = layout.circuits[architecture.first_circuit];
  const int k = first.size;
  OnnModel model;
  model.architecture_ = architecture;
  model.k_ = k;
  model.chip_inputs_ = layout.input_count;
  int next = architecture.first_circuit;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const int rows = (widths[l + 1] + k - 1) / k, cols = (widths[l] + k - 1) / k;
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        if (next >= circuit_count) {
          return absl::InvalidArgumentError(absl::StrCat(
              "widths need more ", k, "x", k, " blocks than the chip's ",
              circuit_count - architecture.first_circuit, " circuits from first_circuit"));
        }
        const photonsim::CircuitLayout& circuit = layout.circuits[next];
        if (circuit.kind == photonsim::CircuitKind::kMicroringBank || circuit.size != k ||
            circuit.input_count != k || circuit.output_count != k) {
          return absl::InvalidArgumentError(
              absl::StrCat("circuit ", circuit.name, " is not a ", k, "x", k, " mesh or SVD core"));
        }
        model.blocks_.push_back({static_cast<int>(l), r, c, next});
        model.circuits_.push_back(circuit);
        // SVD core phase order: V mesh k(k-1), attenuators k, U mesh k(k-1).
        const int mesh_phases = k * (k - 1);
        for (int p = 0; p < circuit.phase_count; ++p) {
          model.trainable_.push_back(circuit.first_phase + p);
          model.attenuator_.push_back(circuit.kind == photonsim::CircuitKind::kSvd &&
                                      p >= mesh_phases && p < mesh_phases + k);
        }
        ++next;
      }
    }
  }
  return model;
}

absl::StatusOr<Eigen::MatrixXd> OnnModel::Forward(ChipOracle& oracle,
                                                  const Eigen::MatrixXd& features) const {
  const std::vector<int>& widths = architecture_.widths;
  if (features.cols() != widths.front()) {
    return absl::InvalidArgumentError(absl::StrCat("features have ", features.cols(),
                                                   " columns; the model takes ", widths.front()));
  }
  // Layer by layer, each layer's samples in sweeps of up to kSweepRows
  // (ChipOracle::QueryBatch), reading only the layer's own outputs.
  constexpr Eigen::Index kSweepRows = 256;
  const auto inputs = static_cast<std::size_t>(chip_inputs_);
  Eigen::MatrixXd logits(features.rows(), widths.back());
  std::vector<double> amplitudes;
  std::vector<int> scan, scan_unit;  // a layer's outputs read, and the unit each feeds
  for (Eigen::Index first = 0; first < features.rows(); first += kSweepRows) {
    const Eigen::Index rows = std::min(kSweepRows, features.rows() - first);
    Eigen::MatrixXd activation = features.middleRows(first, rows);
    std::size_t block = 0;
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
      const std::size_t layer_begin = block;
      while (block < blocks_.size() && blocks_[block].layer == static_cast<int>(l)) ++block;
      amplitudes.assign(static_cast<std::size_t>(rows) * inputs, 0.0);
      for (Eigen::Index s = 0; s < rows; ++s) {
        double* row = amplitudes.data() + s * inputs;
        for (std::size_t b = layer_begin; b < block; ++b) {
          const photonsim::CircuitLayout& circuit = circuits_[b];
          for (int i = 0; i < k_; ++i) {
            const int feature = blocks_[b].col * k_ + i;
            if (feature < widths[l]) {
              row[circuit.first_input + i] = std::clamp(activation(s, feature), 0.0, 1.0);
            }
          }
        }
      }
      scan.clear();
      scan_unit.clear();
      for (std::size_t b = layer_begin; b < block; ++b) {
        for (int o = 0; o < k_; ++o) {
          const int unit = blocks_[b].row * k_ + o;
          if (unit >= widths[l + 1]) continue;
          scan.push_back(circuits_[b].first_output + o);
          scan_unit.push_back(unit);
        }
      }
      absl::StatusOr<std::vector<double>> out = oracle.QueryBatch(amplitudes, scan);
      if (!out.ok()) return out.status();
      Eigen::MatrixXd powers = Eigen::MatrixXd::Zero(rows, widths[l + 1]);
      for (Eigen::Index s = 0; s < rows; ++s) {
        const double* reading = out->data() + s * scan.size();
        for (std::size_t j = 0; j < scan.size(); ++j) {
          powers(s, scan_unit[j]) += std::max(0.0, reading[j]);
        }
      }
      if (l + 2 == widths.size()) {
        for (Eigen::Index s = 0; s < rows; ++s) {
          const double total = powers.row(s).sum();
          for (int o = 0; o < widths.back(); ++o) {
            logits(first + s, o) =
                total > 0.0 ? architecture_.temperature * powers(s, o) / total : 0.0;
          }
        }
      } else {
        activation.resize(rows, widths[l + 1]);
        for (Eigen::Index s = 0; s < rows; ++s) {
          const double top = powers.row(s).maxCoeff();
          for (int o = 0; o < widths[l + 1]; ++o) {
            activation(s, o) = top > 0.0 ? std::sqrt(powers(s, o) / top) : 0.0;
          }
        }
      }
    }
  }
  return logits;
}

double CrossEntropy(const Eigen::MatrixXd& logits, const std::vector<int>& labels) {
  double sum = 0.0;
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    const double top = logits.row(r).maxCoeff();
    const double log_z = top + std::log((logits.row(r).array() - top).exp().sum());
    sum += log_z - logits(r, labels[r]);
  }
  return logits.rows() > 0 ? sum / static_cast<double>(logits.rows()) : 0.0;
}

double Accuracy(const Eigen::MatrixXd& logits, const std::vector<int>& labels) {
  int correct = 0;
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    Eigen::Index best = 0;
    logits.row(r).maxCoeff(&best);
    correct += best == labels[r] ? 1 : 0;
  }
  return logits.rows() > 0 ? static_cast<double>(correct) / static_cast<double>(logits.rows())
                           : 0.0;
}

}  // namespace phc::trainers
