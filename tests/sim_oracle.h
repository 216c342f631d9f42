// The raw simulator as a ChipOracle, driven as the daemon's controller
// drives it with a nominal phase model (zero bias, nominal efficiency and
// resistance) and the same settling, without the controller: the reference
// its overhead is measured against, and a fabricated chip for tests of
// algorithms that see only readings. Power is not accounted.
#pragma once

#include <chrono>
#include <cmath>
#include <numbers>
#include <span>
#include <vector>

#include "phc/trainers/chip_oracle.h"
#include "photonsim/chip_layout.h"
#include "photonsim/phase.h"
#include "photonsim/sim_chip.h"

namespace phc::testing {

class RawSimOracle final : public trainers::ChipOracle {
 public:
  RawSimOracle(photonsim::SimChip& sim, const photonic::v1::ChipDescription& chip)
      : sim_(sim), chip_(chip), layout_(photonsim::BuildChipLayout(chip)) {
    for (int i = 0; i < layout_.phase_count; ++i) channels_.push_back(i);
  }
  const photonsim::ChipLayout& layout() const override { return layout_; }
  absl::Status SetPhases(std::span<const double> phases_rad) override {
    std::vector<double> volts(phases_rad.size());
    for (std::size_t i = 0; i < phases_rad.size(); ++i) {
      volts[i] = std::sqrt(PhasePowerMw(static_cast<int>(i), phases_rad[i]) * 1e-3 *
                           chip_.heater().resistance_ohm());
    }
    sim_.SetHeaterVoltages(channels_, volts);
    sim_.Advance(std::chrono::microseconds(static_cast<int>(8 * chip_.thermal().tau_us())));
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    std::vector<double> volts(amplitudes.size());
    for (std::size_t i = 0; i < amplitudes.size(); ++i) {
      volts[i] = 2.0 * chip_.modulator().v_pi_v() / std::numbers::pi * std::asin(amplitudes[i]);
    }
    sim_.SetModulatorVoltages(volts);
    std::vector<double> currents = sim_.ReadPhotocurrentsA(1);
    for (double& c : currents) c = c / chip_.detector().responsivity_a_per_w() * 1e3;
    ++cost_.queries;
    return currents;
  }
  // Power accounting is not measured here (ChipAccuracy does not ask).
  double HeaterPowerMw(std::span<const double>) const override { return 0.0; }
  std::vector<double> HeaterPowersMw(std::span<const double> p) const override {
    return std::vector<double>(p.size(), 0.0);
  }
  double PhasePowerMw(int, double phase_rad) const override {
    return photonsim::WrapPhase(phase_rad) / std::numbers::pi * chip_.heater().p_pi_mw();
  }
  trainers::OracleCost cost() const override { return cost_; }

 private:
  photonsim::SimChip& sim_;
  photonic::v1::ChipDescription chip_;
  photonsim::ChipLayout layout_;
  std::vector<int> channels_;
  trainers::OracleCost cost_;
};

}  // namespace phc::testing
