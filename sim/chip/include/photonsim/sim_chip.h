// SimChip: a simulated photonic chip with its instruments, at the electrical
// level the drivers see. Inputs are heater and modulator DAC voltages and a
// TEC setpoint; outputs are digitised photocurrents and a temperature.
//
// Physics (see ../shared/DESIGN.md): heater power P = V^2/R; phase
//   phi_i = phi0_i + drift * (T - T_ref) + eta_i * sum_j Gamma_ij P_eff_j,
// where P_eff follows P with a first-order lag tau on a virtual clock; MZI
// meshes with coupler errors and loss, SVD cores (intensity or homodyne
// readout) and microring banks; shot and thermal noise, TIA and ADC. The chip is drawn around its
// description from a seed (HiddenTruth); the daemon never sees the truth.
//
// Time only moves when Advance() is called or a reading integrates: reading
// right after a write sees the not-yet-settled phases.
//
// Cost: the optics follow the phases element by element. A write marks its
// heaters; only heaters still settling are advanced in time (a heater within
// kSettledPowerMw of its target is snapped to it); a reading recomputes the
// phases of the marked heaters and of the shifters they heat (crosstalk),
// and rebuilds only the MZIs and ring rows whose phase moved by more than
// kOpticsPhaseResolutionRad / 2. The common temperature drift is tracked
// apart, as a phase offset of every circuit, set again when it has moved by
// more than half the resolution (no sine per MZI is recomputed for it). So
// every phase the optics use is within the resolution of the true one.
//
// Thread safety: not thread-safe; the owner serialises access.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "photonic/v1/config.pb.h"
#include "photonsim/chip_layout.h"
#include "photonsim/detector_chain.h"
#include "photonsim/hidden_truth.h"
#include "photonsim/optical_circuit.h"

namespace photonsim {

// The optics follow the phases to this resolution: a circuit is rebuilt when
// one of its phases has moved by more than this since it was last built
// (output power changes by at most ~1e-6 relative, far below shot noise).
inline constexpr double kOpticsPhaseResolutionRad = 1e-6;
// A settling heater this close to its target power is snapped to it
// (~1e-13 rad of phase at typical efficiencies).
inline constexpr double kSettledPowerMw = 1e-12;

class SimChip {
 public:
  // Validates the description and draws the hidden chip from `seed`.
  static absl::StatusOr<std::unique_ptr<SimChip>> Create(const photonic::v1::ChipDescription& chip,
                                                         std::uint64_t seed);

  // noise_seed seeds detector noise and temperature wander.
  SimChip(const photonic::v1::ChipDescription& chip, HiddenTruth truth, std::uint64_t noise_seed);

  const ChipLayout& layout() const { return layout_; }
  int heater_count() const { return layout_.phase_count; }
  int modulator_count() const { return layout_.input_count; }
  int detector_count() const { return layout_.output_count; }

  // Voltages are quantised by the driver DAC (heater.dac_bits over
  // [0, max_voltage_v]). REQUIRES: equal lengths; channels in range.
  void SetHeaterVoltages(std::span<const int> channels, std::span<const double> volts_v);
  // Quantised by modulator.dac_bits over [0, max_voltage_v], or for bipolar
  // modulators over [-max_voltage_v, max_voltage_v] with 2^(bits-1) - 1 steps
  // each side of 0 V (so -V quantises to minus what +V does).
  // REQUIRES: volts_v.size() == modulator_count().
  void SetModulatorVoltages(std::span<const double> volts_v);
  // Push-pull modulators (modulator.bipolar): negative voltages give negative
  // field amplitudes.
  bool modulators_bipolar() const { return description_.modulator().bipolar(); }
  // Applied (quantised) voltages.
  const std::vector<double>& heater_voltages_v() const { return heater_volts_v_; }
  const std::vector<double>& modulator_voltages_v() const { return modulator_volts_v_; }

  // Digitised photocurrent of every detector, averaged over `averages`
  // conversions; the optics are sampled at the start of the conversion
  // window, then the clock advances by averages * sample_time.
  // REQUIRES: averages >= 1.
  std::vector<double> ReadPhotocurrentsA(int averages);
  // A hardware-timed sequence (an AWG stepping the modulators, the ADC
  // converting after each step): for each row of modulator_volts_rows
  // (rows x modulator_count(), row-major), SetModulatorVoltages then
  // ReadPhotocurrentsA(averages). Returns rows x detector_count() currents,
  // row-major; the modulators keep the last row. The rows are propagated in
  // batches: a batch ends only where a phase moves past the optics
  // resolution between two rows (settling heaters, temperature wander), so
  // each row sees the optics of its own time, as in single reads. The noise
  // is drawn in another order than by single reads (temperature first, then
  // the detectors), with the same statistics.
  // `detectors` is the ADC's scan list: the detectors converted after each
  // row, in this order (empty: every detector, in index order); returns rows
  // x detectors.size() then. A detector not scanned draws no noise, and a
  // circuit none of whose detectors is scanned is not propagated (its phases
  // still follow the heaters).
  // REQUIRES: averages >= 1; size a multiple of modulator_count();
  // detectors in [0, detector_count()).
  std::vector<double> ReadSequencePhotocurrentsA(std::span<const double> modulator_volts_rows,
                                                 int averages, std::span<const int> detectors = {});

  std::chrono::nanoseconds now() const { return now_; }
  void Advance(std::chrono::nanoseconds dt);

  void SetTecSetpointC(double setpoint_c) { tec_setpoint_c_ = setpoint_c; }
  double tec_setpoint_c() const { return tec_setpoint_c_; }
  double temperature_c() const { return tec_setpoint_c_ + temperature_offset_k_; }

  // What the heater drivers delivered, judged with the hidden resistances:
  // the check a test makes from outside the daemon (photonsim's `audit`
  // control line), since the daemon only ever knows nominal values.
  struct HeaterAudit {
    std::int64_t writes = 0;  // SetHeaterVoltages calls in the window
    double max_volts_v = 0.0;
    int max_volts_channel = -1;
    double max_current_ma = 0.0;
    int max_current_channel = -1;
    double max_total_power_mw = 0.0;  // chip-wide, at any moment of the window
    double total_power_mw = 0.0;      // now
    // Every heater was at 0 V at some moment of the window (its start
    // included): the safe state a daemon drives the chip to.
    bool was_safe = true;
  };
  // The window since the last call; the next window starts at the present
  // state (so a limit held since before still counts).
  HeaterAudit TakeHeaterAudit();
  // Every heater at 0 V right now.
  bool heaters_off() const { return powered_heaters_ == 0; }

  // Test-only: the truth, and the phase every shifter has right now.
  const HiddenTruth& hidden_truth_for_testing() const { return truth_; }
  std::vector<double> PhasesForTesting() const;

 private:
  void UpdateCircuits();
  // UpdateCircuits in two halves: find what moved past the resolution
  // (true if any circuit must be rebuilt), then rebuild it.
  bool CollectMovedPhases();
  void RebuildMovedCircuits();
  double QuantiseModulator(double volts_v) const;
  // Reads rows of quantised modulator voltages (ReadSequencePhotocurrentsA).
  // rows x modulator_count() quantised voltages, row-major.
  std::vector<double> ReadRows(std::span<const double> modulator_volts_rows, int averages,
                               std::span<const int> detectors);
  // Propagates input rows [first, end) of the present reading through
  // circuit c.
  void DetectCircuitRows(std::size_t c, Eigen::Index first, Eigen::Index end);
  double DriftRad() const;
  // Phase of shifter i at the given drift, from the effective powers.
  double PhaseRad(int i, double drift_rad) const;
  void MarkPowerMoved(int heater);
  void AuditVolts(int channel, double volts_v);

  photonic::v1::ChipDescription description_;
  ChipLayout layout_;
  HiddenTruth truth_;
  std::vector<std::unique_ptr<OpticalCircuit>> circuits_;
  DetectorChain detector_;
  std::mt19937_64 noise_rng_;

  std::vector<double> heater_volts_v_;
  std::vector<double> target_power_mw_;  // V^2/R of the applied voltages
  double total_target_power_mw_ = 0.0;   // their sum, kept as they change
  int powered_heaters_ = 0;              // heaters not at 0 V
  HeaterAudit audit_;
  std::vector<double> effective_power_mw_;  // after thermal settling
  std::vector<double> modulator_volts_v_;
  double modulator_lsb_v_ = 0.0;  // 0: no quantisation (dac_bits 0)
  std::chrono::nanoseconds now_{0};
  double tec_setpoint_c_;
  double temperature_offset_k_ = 0.0;
  // crosstalk_receivers_[j]: the shifters that heater j heats besides its own.
  std::vector<std::vector<int>> crosstalk_receivers_;
  std::vector<int> circuit_of_phase_;
  std::vector<int> circuit_of_output_;
  // Heaters whose effective power is still moving towards its target.
  std::vector<int> settling_heaters_;
  std::vector<char> is_settling_;
  // Heaters whose effective power moved since the optics were last built.
  std::vector<int> moved_heaters_;
  std::vector<char> has_moved_;
  // Scratch: shifters whose phase a moved heater changes.
  std::vector<int> affected_phases_;
  std::vector<char> phase_affected_;
  // Phases (without drift) and the drift the circuits were last built with.
  bool built_ = false;
  bool drift_moved_ = false;
  double built_drift_rad_ = 0.0;
  std::vector<double> built_phases_rad_;
  std::vector<char> circuit_dirty_;
  // Per circuit, the first row of the reading not yet propagated through it,
  // and whether the reading's scan list has one of its detectors.
  std::vector<Eigen::Index> circuit_first_row_;
  std::vector<char> circuit_scanned_;
  // Circuits still to be given the present drift (built_drift_rad_).
  std::vector<char> circuit_offset_stale_;
  std::vector<int> scan_;  // the reading's detectors, in order
  // Scratch for a reading, reused: rows x inputs, rows x outputs.
  RowMajorMatrixXd input_rows_, positive_rows_, negative_rows_;
  std::vector<double> modulation_rad_, modulation_cos_, mean_a_, through_a_;
  // Per detector, the dark current in its mean and in its shot noise (a
  // balanced pair: 0 and both of the pair's).
  std::vector<double> detector_dark_mean_a_, detector_dark_shot_a_;
};

}  // namespace photonsim
