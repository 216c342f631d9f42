// A ChipOracle over the ideal model of a chip description that forwards
// every call to it: a test's chip derives from it and overrides only what
// it does differently (errors on the phases, mixed readings, a record of
// the phases set).
#pragma once

#include <span>
#include <vector>

#include "phc/trainers/model_oracle.h"

namespace phc::testing {

class ForwardingOracle : public trainers::ChipOracle {
 public:
  explicit ForwardingOracle(const photonic::v1::ChipDescription& chip) : ideal_(chip) {}

  const photonsim::ChipLayout& layout() const override { return ideal_.layout(); }
  absl::Status SetPhases(std::span<const double> phases_rad) override {
    return ideal_.SetPhases(phases_rad);
  }
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    return ideal_.Query(amplitudes);
  }
  double HeaterPowerMw(std::span<const double> phases_rad) const override {
    return ideal_.HeaterPowerMw(phases_rad);
  }
  std::vector<double> HeaterPowersMw(std::span<const double> phases_rad) const override {
    return ideal_.HeaterPowersMw(phases_rad);
  }
  double PhasePowerMw(int index, double phase_rad) const override {
    return ideal_.PhasePowerMw(index, phase_rad);
  }
  trainers::OracleCost cost() const override { return ideal_.cost(); }

 protected:
  trainers::ModelOracle ideal_;
};

}  // namespace phc::testing
