// The trainers' ChipOracle over the daemon's ChipController: training in
// situ, on the hardware thread, one direct call per query or batch (no RPC). Heater
// power comes from the controller's phase model (calibrated when a
// calibration is installed), every write goes through PowerGuard.
#pragma once

#include <chrono>
#include <cstdint>

#include "daemon/chip/chip_controller.h"
#include "phc/trainers/chip_oracle.h"

namespace phc::daemon {

class ControllerOracle final : public trainers::ChipOracle {
 public:
  // averages: detector averages per query (0 means 1).
  // REQUIRES: used on the controller's hardware thread only.
  ControllerOracle(ChipController& controller, std::uint32_t averages);

  const photonsim::ChipLayout& layout() const override { return controller_.layout(); }
  absl::Status SetPhases(std::span<const double> phases_rad) override;
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override;
  // ChipController::QueryBatch: one hardware-timed sweep where there is one.
  using trainers::ChipOracle::QueryBatch;
  absl::StatusOr<std::vector<double>> QueryBatch(std::span<const double> amplitude_rows,
                                                 std::span<const int> outputs) override;
  double HeaterPowerMw(std::span<const double> phases_rad) const override;
  std::vector<double> HeaterPowersMw(std::span<const double> phases_rad) const override;
  double PhasePowerMw(int index, double phase_rad) const override;
  trainers::OracleCost cost() const override;

 private:
  ChipController& controller_;
  std::uint32_t averages_;
  std::int64_t queries_ = 0;
  std::int64_t phase_writes_ = 0;
  double energy_start_mj_;
  std::chrono::nanoseconds time_start_;
};

}  // namespace phc::daemon
