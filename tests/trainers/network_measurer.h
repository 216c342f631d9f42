// A physical system for tests: a second network with the model's layers
// and its own (hidden) errors, measured block by block.
#pragma once

#include <algorithm>

#include "phc/trainers/diff/network.h"

namespace phc::trainers::diff {

// Measures each block on a second network (same layers, other errors).
class NetworkMeasurer final : public BlockMeasurer {
 public:
  explicit NetworkMeasurer(Network& physical) : physical_(physical) {}
  absl::StatusOr<Eigen::MatrixXd> Measure(int block, const MeshLayer& mesh,
                                          const Eigen::MatrixXd& amplitudes) override {
    const Network::OpticalBlock range = physical_.OpticalBlocks().at(block);
    auto* physical_mesh = static_cast<MeshLayer*>(physical_.layers()[range.first].get());
    std::copy(mesh.phases().begin(), mesh.phases().end(), physical_mesh->parameters().begin());
    return physical_.ForwardRange(range, amplitudes.cast<Complex>()).real();
  }

 private:
  Network& physical_;
};

}  // namespace phc::trainers::diff
