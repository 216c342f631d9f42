// A deployed ModelService model as a zeroth-order training run's network:
// its trained parameters are the phases of its cores on the chip (where its
// placement put them), its forward pass is ChipForward (the electronic
// layers, the receivers' calibration of a programmed deployment). A
// from_model training session fine-tunes it (docs/training.md).
//
// Thread safety: none; the network belongs to one run.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "phc/trainers/chip_network.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "photonsim/chip_layout.h"

namespace phc::trainers::onn {

class DeployedModelNetwork final : public ChipNetwork {
 public:
  // REQUIRES: placement from PlaceModel(model, the chip of `layout`).
  DeployedModelNetwork(Model model, ChipPlacement placement, const photonsim::ChipLayout& layout);

  const std::vector<int>& trainable_phases() const override { return trainable_; }
  const std::vector<bool>& attenuator_phases() const override { return attenuator_; }
  absl::StatusOr<Eigen::MatrixXd> Forward(ChipOracle& oracle,
                                          const Eigen::MatrixXd& features) const override;

  // The receivers' offsets (mW) then gains (per mW), one per chip output;
  // empty for nominal receivers.
  std::vector<double> SaveState() const override;
  // DATA_LOSS unless empty or two values per chip output.
  absl::Status RestoreState(std::span<const double> state) override;

  const Model& model() const { return *model_; }
  const ChipPlacement& placement() const { return placement_; }

 private:
  std::unique_ptr<Model> model_;  // ChipForward runs its electronic layers
  ChipPlacement placement_;
  int chip_outputs_ = 0;
  std::vector<int> trainable_;
  std::vector<bool> attenuator_;
};

}  // namespace phc::trainers::onn
