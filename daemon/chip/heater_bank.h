// HeaterBank: the chip's heaters and the one path every heater write takes,
//   plan (phases -> powers, crosstalk compensated) -> guard (PowerGuard:
//   reachability, DAC quantisation, voltage, current, total power) -> slew
//   (steps of at most max_step_v) -> write -> settle -> energy.
// It owns the heater state (phases, volts, energy), the phase model and the
// guard. Not thread-safe: ChipController calls it while holding the hardware.
// Trimmed (passive) shifters have no heater: they stay at 0 V, and a request
// may name them only at their designed phase.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/heater_model.h"
#include "daemon/chip/heater_phase_model.h"
#include "daemon/chip/power_guard.h"
#include "phc/drivers/instrument_drivers.h"
#include "photonic/v1/config.pb.h"

namespace phc::daemon {

struct PhaseState {
  std::vector<double> phases_rad;  // wrapped to [0, 2 pi)
  std::vector<double> heater_power_mw;
  double total_heater_power_mw = 0.0;
  double heater_energy_mj = 0.0;  // since start, over the instruments' clock
};

// A heater state that passed PowerGuard, ready to write.
struct HeaterPlan {
  std::vector<double> phases_rad;  // wrapped: what the volts mean
  std::vector<double> volts_v;     // every channel, as the DAC will output them
  std::uint64_t phase_model = 0;   // which phase model planned it (HeaterBank's count)
};

class HeaterBank {
 public:
  // `driver` and `clock` must outlive the bank. `lost_state` runs when a
  // failed write leaves the heaters' state unknown (the readback failed
  // too): it should drive the chip to its safe state.
  HeaterBank(const photonic::v1::ChipDescription& chip, drivers::HeaterDriver& driver,
             drivers::Clock& clock, std::chrono::nanoseconds settle_time,
             std::function<void()> lost_state);

  int count() const { return static_cast<int>(phases_rad_.size()); }
  // A request may name a trimmed (passive) phase only at its designed
  // value, within this (it is then planned at exactly that value, 0 V).
  static constexpr double kTrimmedPhaseToleranceRad = 1e-9;

  // The full wrapped phase vector a request asks for. indices empty:
  // phases_rad holds every phase; else phases_rad[i] is for indices[i].
  // INVALID_ARGUMENT naming the bad field.
  absl::StatusOr<std::vector<double>> PlanPhases(std::span<const double> phases_rad,
                                                 std::span<const std::uint32_t> indices) const;
  // The volts for wrapped phases, through PowerGuard (FAILED_PRECONDITION
  // naming the channel and limit). Without crosstalk in the phase model, a
  // channel whose phase equals the present one keeps its present volts: a
  // step that moves a few of thousands of phases plans only those.
  absl::StatusOr<HeaterPlan> Guard(std::vector<double> wrapped_phases) const;
  // Writes a guarded plan: only channels whose volts change, ramped in
  // steps of at most max_step_v, each step settled. On a driver error the
  // state is read back (or, failing that, `lost_state` runs).
  // FAILED_PRECONDITION for a plan made under an earlier phase model.
  absl::Status Write(HeaterPlan plan);
  // Every heater's power (nominal mW), through PowerGuard and the ramp.
  // INVALID_ARGUMENT for a wrong length or a negative or non-finite power.
  absl::Status SetPowers(std::span<const double> powers_mw);
  // Every heater to 0 V at once (no ramp: the safe state), then settles.
  absl::Status DriveToZero();
  // Replaces the phase model; the phases are re-derived from the volts.
  void InstallPhaseModel(HeaterPhaseModel model);
  // A new total budget in (0, ceiling]; FAILED_PRECONDITION when the
  // heaters draw more than it now. (Who may raise it is the caller's rule.)
  absl::Status SetBudget(double max_total_power_mw);

  PhaseState State() const;
  const std::vector<double>& phases_rad() const { return phases_rad_; }
  const HeaterPhaseModel& phase_model() const { return phase_model_; }
  const PowerGuard& guard() const { return guard_; }
  double power_ceiling_mw() const { return power_ceiling_mw_; }

 private:
  double VoltsForPowerMw(double power_mw) const;
  // INVALID_ARGUMENT when `channel` is trimmed at another phase.
  absl::Status CheckTrimmed(int channel, double wrapped_phase_rad) const;
  // INTERNAL when a plan would put volts on a trimmed channel (it cannot:
  // the nominal model plans 0 V there and no calibration fits such a chip).
  absl::Status CheckTrimmedVolts(std::span<const double> volts_v) const;
  // Writes a complete, guarded voltage state; `phases` is what it means.
  absl::Status WriteVolts(std::vector<double> volts_v, std::vector<double> phases);
  absl::Status RampChannels(std::span<const int> channels, const std::vector<double>& target_v);
  // Energy up to now at the present volts.
  void AccountEnergy();

  const photonic::v1::HeaterSpec spec_;
  const double power_ceiling_mw_;  // the description's budget: the operator's ceiling
  const NominalHeaterModel heater_model_;
  PowerGuard guard_;
  HeaterPhaseModel phase_model_;
  drivers::HeaterDriver& driver_;
  drivers::Clock& clock_;
  const std::chrono::nanoseconds settle_time_;
  const std::function<void()> lost_state_;

  std::vector<std::optional<double>> trimmed_phase_rad_;  // designed phase of a trimmed shifter
  std::vector<int> trimmed_channels_;
  std::vector<double> phases_rad_;
  std::vector<double> volts_v_;
  // True when volts_v_ is exactly what Guard plans for phases_rad_ under
  // the present phase model (the last write was a phase plan).
  bool volts_follow_phases_ = false;
  std::uint64_t phase_model_count_ = 0;  // models installed so far
  double energy_mj_ = 0.0;
  std::chrono::nanoseconds energy_checkpoint_{0};
};

}  // namespace phc::daemon
