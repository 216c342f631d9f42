#include "phc/trainers/onn/model_network.h"

#include <utility>

namespace phc::trainers::onn {

DeployedModelNetwork::DeployedModelNetwork(Model model, ChipPlacement placement,
                                           const photonsim::ChipLayout& layout)
    : model_(std::make_unique<Model>(std::move(model))),
      placement_(std::move(placement)),
      chip_outputs_(layout.output_count) {
  // Every phase of every core, in chip order; within a core (svd_core.h):
  // V mesh k(k-1), attenuators k, U mesh k(k-1), output screens k.
  const int k = static_cast<int>(model_->spec().core_size());
  const int mesh = k * (k - 1);
  for (int circuit : placement_.circuits) {
    const photonsim::CircuitLayout& c = layout.circuits[circuit];
    for (int i = 0; i < c.phase_count; ++i) {
      trainable_.push_back(c.first_phase + i);
      attenuator_.push_back(i >= mesh && i < mesh + k);
    }
  }
}

absl::StatusOr<Eigen::MatrixXd> DeployedModelNetwork::Forward(
    ChipOracle& oracle, const Eigen::MatrixXd& features) const {
  return ChipForward(*model_, placement_, oracle, features);
}

std::vector<double> DeployedModelNetwork::SaveState() const {
  std::vector<double> state = placement_.output_offset_mw;
  state.insert(state.end(), placement_.output_gain_per_mw.begin(),
               placement_.output_gain_per_mw.end());
  return state;
}

absl::Status DeployedModelNetwork::RestoreState(std::span<const double> state) {
  if (state.empty()) {
    placement_.output_offset_mw.clear();
    placement_.output_gain_per_mw.clear();
    return absl::OkStatus();
  }
  if (static_cast<int>(state.size()) != 2 * chip_outputs_) {
    return absl::DataLossError(
        "the checkpoint's receiver calibration does not fit the chip's outputs");
  }
  placement_.output_offset_mw.assign(state.begin(), state.begin() + chip_outputs_);
  placement_.output_gain_per_mw.assign(state.begin() + chip_outputs_, state.end());
  return absl::OkStatus();
}

}  // namespace phc::trainers::onn
