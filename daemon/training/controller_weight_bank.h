// The trainers' WeightBankDevice over the daemon's ChipController: a chip
// whose only circuit is a microring bank. Ring heater powers go through
// PowerGuard like every heater write; channel powers go to the modulators as
// field amplitudes sqrt(p).
#pragma once

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "phc/trainers/weight_bank.h"

namespace phc::daemon {

class ControllerWeightBank final : public trainers::WeightBankDevice {
 public:
  // NOT_FOUND unless the chip is one microring bank (phases = rings).
  // REQUIRES: used on the controller's hardware thread only.
  static absl::StatusOr<ControllerWeightBank> Create(ChipController& controller);

  int channels() const override { return channels_; }
  int rows() const override { return rows_; }
  absl::Status SetRingPowers(std::span<const double> powers_mw) override;
  absl::StatusOr<Eigen::VectorXd> Read(std::span<const double> channel_power_fraction,
                                       int averages) override;
  std::int64_t readings() const { return readings_; }

 private:
  ControllerWeightBank(ChipController& controller, int channels, int rows)
      : controller_(&controller), channels_(channels), rows_(rows), amplitudes_(channels) {}

  ChipController* controller_;
  int channels_;
  int rows_;
  std::vector<double> amplitudes_;
  std::int64_t readings_ = 0;
};

}  // namespace phc::daemon
