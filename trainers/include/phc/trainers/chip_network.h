// What a zeroth-order training run trains: a network whose forward pass runs
// on the chip and whose trained parameters are some of the chip's phases.
// OnnModel (an ONN of widths mapped onto the chip's circuits) and
// onn::DeployedModelNetwork (a deployed ModelService model) implement it.
//
// Thread safety: none; a network belongs to one run.
#pragma once

#include <Eigen/Core>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"

namespace phc::trainers {

class ChipNetwork {
 public:
  virtual ~ChipNetwork() = default;

  // The chip phase index of each trained parameter, in parameter order.
  virtual const std::vector<int>& trainable_phases() const = 0;
  // Aligned with trainable_phases(): whether the phase is an SVD core's
  // attenuator (Sigma) phase, which sparse_zo never freezes.
  virtual const std::vector<bool>& attenuator_phases() const = 0;
  // Logits (samples x classes) measured on the chip, whose phases the
  // caller has set.
  virtual absl::StatusOr<Eigen::MatrixXd> Forward(ChipOracle& oracle,
                                                  const Eigen::MatrixXd& features) const = 0;

  // What the network needs in a checkpoint beyond the phases (a deployed
  // model: its receivers' calibration), and its restore: DATA_LOSS when the
  // state does not fit.
  virtual std::vector<double> SaveState() const { return {}; }
  virtual absl::Status RestoreState(std::span<const double> state) {
    return state.empty() ? absl::OkStatus()
                         : absl::DataLossError("the checkpoint's network state does not fit");
  }
};

}  // namespace phc::trainers
