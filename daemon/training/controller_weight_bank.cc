#include "daemon/training/controller_weight_bank.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace phc::daemon {

absl::StatusOr<ControllerWeightBank> ControllerWeightBank::Create(ChipController& controller) {
  const photonic::v1::MicroringBankCircuit* bank = trainers::SingleWeightBank(controller.layout());
  if (bank == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("chip ", controller.chip().name(), " is not a single microring weight bank"));
  }
  return ControllerWeightBank(controller, static_cast<int>(bank->channels()),
                              static_cast<int>(bank->rows()));
}

absl::Status ControllerWeightBank::SetRingPowers(std::span<const double> powers_mw) {
  return controller_->SetHeaterPowers(powers_mw);
}

absl::StatusOr<Eigen::VectorXd> ControllerWeightBank::Read(
    std::span<const double> channel_power_fraction, int averages) {
  if (static_cast<int>(channel_power_fraction.size()) != channels_) {
    return absl::InvalidArgumentError(absl::StrCat("weight bank read with ",
                                                   channel_power_fraction.size(),
                                                   " channel powers; the bank has ", channels_));
  }
  for (int k = 0; k < channels_; ++k) {
    const double p = channel_power_fraction[k];
    if (!(p >= 0.0 && p <= 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("channel ", k, " power fraction ", p, " is outside [0, 1]"));
    }
    amplitudes_[k] = std::sqrt(p);
  }
  QueryConfig config;
  config.amplitudes = amplitudes_;
  config.averages = static_cast<std::uint32_t>(averages);
  absl::StatusOr<DetectorReading> reading = controller_->Query(config);
  if (!reading.ok()) return reading.status();
  ++readings_;
  return Eigen::Map<const Eigen::VectorXd>(reading->photocurrent_ua.data(),
                                           static_cast<Eigen::Index>(rows_));
}

}  // namespace phc::daemon
