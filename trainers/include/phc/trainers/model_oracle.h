// The ideal model of a chip description as a ChipOracle: every circuit with
// perfect couplers, no loss, no noise, no crosstalk, zero phase bias and the
// nominal heater efficiency. In silico training and the tests use it.
// Amplitudes are in [0, 1], or [-1, 1] with bipolar modulators.
#pragma once

#include <memory>

#include "phc/trainers/chip_oracle.h"
#include "photonic/v1/config.pb.h"
#include "photonsim/optical_circuit.h"

namespace phc::trainers {

class ModelOracle final : public ChipOracle {
 public:
  // REQUIRES: photonsim::ValidateChipDescription(chip).ok().
  explicit ModelOracle(const photonic::v1::ChipDescription& chip);

  const photonsim::ChipLayout& layout() const override { return layout_; }
  absl::Status SetPhases(std::span<const double> phases_rad) override;
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override;
  double HeaterPowerMw(std::span<const double> phases_rad) const override;
  std::vector<double> HeaterPowersMw(std::span<const double> phases_rad) const override;
  double PhasePowerMw(int index, double phase_rad) const override;
  OracleCost cost() const override { return cost_; }

 private:
  photonsim::ChipLayout layout_;
  std::vector<std::unique_ptr<photonsim::OpticalCircuit>> circuits_;
  double laser_power_mw_;
  double p_pi_mw_;
  double max_total_power_mw_;
  double sample_seconds_;
  double min_amplitude_;  // -1 with bipolar modulators, else 0
  std::vector<double> phases_rad_;
  double heater_power_mw_ = 0.0;
  OracleCost cost_;
};

}  // namespace phc::trainers
