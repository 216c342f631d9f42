#include "photonsim/sim_chip.h"

#include <cmath>
#include <numbers>

#include "phc/base/check.h"
#include "photonsim/chip_description.h"
#include "photonsim/vector_math.h"

namespace photonsim {
namespace {

// std::round (half away from zero), without the libm call: trunc is one
// instruction on SSE4.1 and later, and x - trunc(x) is exact.
// Branch-free (adding a zero of x's sign keeps the sign of a zero), so loops
// over it vectorise.
double RoundHalfAway(double x) {
  const double whole = std::trunc(x);
  return whole + std::copysign(static_cast<double>(std::abs(x - whole) >= 0.5), x);
}

double QuantiseDac(double volts, double full_scale_v, std::uint32_t bits) {
  if (bits == 0) return volts;
  const double lsb = full_scale_v / (std::ldexp(1.0, bits) - 1.0);
  return RoundHalfAway(volts / lsb) * lsb;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SimChip>> SimChip::Create(const photonic::v1::ChipDescription& chip,
                                                         std::uint64_t seed) {
  if (absl::Status status = ValidateChipDescription(chip); !status.ok()) return status;
  return std::make_unique<SimChip>(chip, DrawHiddenTruth(chip, seed), seed ^ 0x9e3779b97f4a7c15ULL);
}

SimChip::SimChip(const photonic::v1::ChipDescription& chip, HiddenTruth truth,
                 std::uint64_t noise_seed)
    : description_(chip),
      layout_(BuildChipLayout(chip)),
      truth_(std::move(truth)),
      detector_(chip.detector()),
      noise_rng_(noise_seed),
      heater_volts_v_(layout_.phase_count, 0.0),
      target_power_mw_(layout_.phase_count, 0.0),
      effective_power_mw_(layout_.phase_count, 0.0),
      modulator_volts_v_(layout_.input_count, 0.0),
      tec_setpoint_c_(chip.tec().setpoint_c()) {
  PHC_CHECK(truth_.trimmed_phase_rad.size() == static_cast<std::size_t>(layout_.phase_count));
  // A bipolar DAC over [-max, max]: codes -(2^(bits-1) - 1) .. 2^(bits-1) - 1
  // (the most negative two's-complement code unused), so 0 V and both ends
  // are exact and rounding half away from zero keeps Q(-V) = -Q(V).
  // bits != 1 (ValidateChipDescription).
  const auto& modulator = chip.modulator();
  if (modulator.dac_bits() > 0) {
    const double levels =
        std::ldexp(1.0, modulator.bipolar() ? modulator.dac_bits() - 1 : modulator.dac_bits()) -
        1.0;
    modulator_lsb_v_ = modulator.max_voltage_v() / levels;
  }
  detector_dark_mean_a_.assign(layout_.output_count, 0.0);
  detector_dark_shot_a_.assign(layout_.output_count, 0.0);
  for (const CircuitLayout& circuit : layout_.circuits) {
    circuits_.push_back(MakeOpticalCircuit(circuit));
    const std::span<const double> splitting(truth_.splitting_error_rad);
    const std::span<const double> amplitude(truth_.mzi_amplitude);
    circuits_.back()->SetImperfections(
        splitting.subspan(2 * circuit.first_mzi, 2 * circuit.mzi_count),
        amplitude.subspan(circuit.first_mzi, circuit.mzi_count));
    const bool balanced = circuits_.back()->balanced();
    for (int k = circuit.first_output; k < circuit.first_output + circuit.output_count; ++k) {
      const double dark = truth_.dark_current_a[k];
      detector_dark_mean_a_[k] = balanced ? 0.0 : dark;
      detector_dark_shot_a_[k] = balanced ? 2 * dark : dark;
    }
  }
  crosstalk_receivers_.resize(layout_.phase_count);
  for (int i = 0; i < layout_.phase_count; ++i) {
    for (const CrosstalkEntry& e : truth_.crosstalk[i])
      crosstalk_receivers_[e.source_heater].push_back(i);
  }
  circuit_of_phase_.assign(layout_.phase_count, 0);
  for (std::size_t c = 0; c < layout_.circuits.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    std::fill_n(circuit_of_phase_.begin() + circuit.first_phase, circuit.phase_count,
                static_cast<int>(c));
  }
  circuit_of_output_.assign(layout_.output_count, 0);
  for (std::size_t c = 0; c < layout_.circuits.size(); ++c) {
    const CircuitLayout& circuit = layout_.circuits[c];
    std::fill_n(circuit_of_output_.begin() + circuit.first_output, circuit.output_count,
                static_cast<int>(c));
  }
  is_settling_.assign(layout_.phase_count, 0);
  has_moved_.assign(layout_.phase_count, 0);
  phase_affected_.assign(layout_.phase_count, 0);
  built_phases_rad_.assign(layout_.phase_count, 0.0);
  circuit_dirty_.assign(circuits_.size(), 0);
  circuit_offset_stale_.assign(circuits_.size(), 0);
  circuit_scanned_.assign(circuits_.size(), 1);
}

void SimChip::MarkPowerMoved(int heater) {
  if (!has_moved_[heater]) {
    has_moved_[heater] = 1;
    moved_heaters_.push_back(heater);
  }
}

void SimChip::SetHeaterVoltages(std::span<const int> channels, std::span<const double> volts_v) {
  PHC_CHECK(channels.size() == volts_v.size());
  const auto& heater = description_.heater();
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const int ch = channels[i];
    const double v = QuantiseDac(volts_v[i], heater.max_voltage_v(), heater.dac_bits());
    powered_heaters_ += (v != 0.0) - (heater_volts_v_.at(ch) != 0.0);
    heater_volts_v_[ch] = v;
    const double target_mw = v * v / truth_.heater_resistance_ohm[ch] * 1e3;
    AuditVolts(ch, v);
    if (target_mw == target_power_mw_[ch]) continue;
    total_target_power_mw_ += target_mw - target_power_mw_[ch];
    target_power_mw_[ch] = target_mw;
    if (truth_.thermal_tau_s <= 0.0) {
      effective_power_mw_[ch] = target_mw;
      MarkPowerMoved(ch);
    } else if (!is_settling_[ch]) {
      is_settling_[ch] = 1;
      settling_heaters_.push_back(ch);
    }
  }
  ++audit_.writes;
  if (powered_heaters_ == 0) audit_.was_safe = true;
  audit_.total_power_mw = total_target_power_mw_;
  audit_.max_total_power_mw = std::max(audit_.max_total_power_mw, total_target_power_mw_);
}

void SimChip::AuditVolts(int channel, double volts_v) {
  const double current_ma = std::abs(volts_v) / truth_.heater_resistance_ohm[channel] * 1e3;
  if (std::abs(volts_v) > audit_.max_volts_v) {
    audit_.max_volts_v = std::abs(volts_v);
    audit_.max_volts_channel = channel;
  }
  if (current_ma > audit_.max_current_ma) {
    audit_.max_current_ma = current_ma;
    audit_.max_current_channel = channel;
  }
}

SimChip::HeaterAudit SimChip::TakeHeaterAudit() {
  // The running sum, recomputed exactly once per window.
  total_target_power_mw_ = 0.0;
  for (double mw : target_power_mw_) total_target_power_mw_ += mw;
  HeaterAudit window = audit_;
  window.total_power_mw = total_target_power_mw_;
  window.max_total_power_mw = std::max(window.max_total_power_mw, total_target_power_mw_);
  audit_ = HeaterAudit{};
  audit_.was_safe = powered_heaters_ == 0;
  audit_.total_power_mw = total_target_power_mw_;
  audit_.max_total_power_mw = total_target_power_mw_;
  for (int ch = 0; ch < heater_count(); ++ch) AuditVolts(ch, heater_volts_v_[ch]);
  return window;
}

double SimChip::QuantiseModulator(double volts_v) const {
  // QuantiseDac or QuantiseBipolarDac, with the step computed once.
  return modulator_lsb_v_ > 0.0 ? RoundHalfAway(volts_v / modulator_lsb_v_) * modulator_lsb_v_
                                : volts_v;
}

void SimChip::SetModulatorVoltages(std::span<const double> volts_v) {
  PHC_CHECK(volts_v.size() == modulator_volts_v_.size());
  for (std::size_t i = 0; i < volts_v.size(); ++i) {
    modulator_volts_v_[i] = QuantiseModulator(volts_v[i]);
  }
}

void SimChip::Advance(std::chrono::nanoseconds dt) {
  if (dt.count() <= 0) return;
  const double dt_s = std::chrono::duration<double>(dt).count();
  if (truth_.thermal_tau_s > 0.0) {
    const double approach = -std::expm1(-dt_s / truth_.thermal_tau_s);  // 1 - exp(-dt/tau)
    std::size_t kept = 0;
    for (const int i : settling_heaters_) {
      const double gap = target_power_mw_[i] - effective_power_mw_[i];
      if (std::abs(gap * (1.0 - approach)) <= kSettledPowerMw) {
        effective_power_mw_[i] = target_power_mw_[i];
        is_settling_[i] = 0;
      } else {
        effective_power_mw_[i] += gap * approach;
        settling_heaters_[kept++] = i;
      }
      MarkPowerMoved(i);
    }
    settling_heaters_.resize(kept);
  }
  // The held temperature wanders as an Ornstein-Uhlenbeck process with
  // standard deviation `stability_k`, sampled exactly over dt.
  const auto& tec = description_.tec();
  if (tec.stability_k() > 0.0) {
    const double decay = std::exp(-dt_s / tec.time_constant_s());
    std::normal_distribution<double> gauss(0.0, 1.0);
    temperature_offset_k_ = temperature_offset_k_ * decay +
                            tec.stability_k() * std::sqrt(1.0 - decay * decay) * gauss(noise_rng_);
  }
  now_ += dt;
}

double SimChip::DriftRad() const {
  return truth_.phase_drift_rad_per_k * (temperature_c() - truth_.reference_temperature_c);
}

double SimChip::PhaseRad(int i, double drift_rad) const {
  double felt_mw = effective_power_mw_[i];
  for (const CrosstalkEntry& e : truth_.crosstalk[i]) {
    felt_mw += e.coupling * effective_power_mw_[e.source_heater];
  }
  return truth_.phase_bias_rad[i] + truth_.trimmed_phase_rad[i] + drift_rad +
         truth_.heater_efficiency_rad_per_mw[i] * felt_mw;
}

std::vector<double> SimChip::PhasesForTesting() const {
  std::vector<double> phases(heater_count());
  const double drift = DriftRad();
  for (int i = 0; i < heater_count(); ++i) phases[i] = PhaseRad(i, drift);
  return phases;
}

void SimChip::UpdateCircuits() {
  CollectMovedPhases();
  RebuildMovedCircuits();
}

// Half the resolution for the common drift, half for each shifter's own
// phase: every phase the optics use is within the resolution of the truth.
bool SimChip::CollectMovedPhases() {
  constexpr double kHalf = kOpticsPhaseResolutionRad / 2;
  bool any_dirty = false;
  if (!built_) {
    for (int i = 0; i < heater_count(); ++i) built_phases_rad_[i] = PhaseRad(i, 0.0);
    circuit_dirty_.assign(circuits_.size(), 1);
    any_dirty = true;
  } else {
    // The shifters these heaters heat, each once.
    auto mark = [&](int i) {
      if (!phase_affected_[i]) {
        phase_affected_[i] = 1;
        affected_phases_.push_back(i);
      }
    };
    for (const int j : moved_heaters_) {
      mark(j);
      for (const int i : crosstalk_receivers_[j]) mark(i);
    }
    for (const int i : affected_phases_) {
      phase_affected_[i] = 0;
      const double phase = PhaseRad(i, 0.0);
      if (!(std::abs(phase - built_phases_rad_[i]) <= kHalf)) {
        built_phases_rad_[i] = phase;
        circuit_dirty_[circuit_of_phase_[i]] = 1;
        any_dirty = true;
      }
    }
    affected_phases_.clear();
  }
  for (const int j : moved_heaters_) has_moved_[j] = 0;
  moved_heaters_.clear();
  drift_moved_ = !built_ || !(std::abs(DriftRad() - built_drift_rad_) <= kHalf);
  return any_dirty || drift_moved_;
}

void SimChip::RebuildMovedCircuits() {
  if (drift_moved_) {
    built_drift_rad_ = DriftRad();
    std::fill(circuit_offset_stale_.begin(), circuit_offset_stale_.end(), 1);
    drift_moved_ = false;
  }
  // Only the circuits this reading scans; the others wait until a reading
  // does (a circuit is a function of its phases and offset, whatever the path).
  const std::span<const double> all(built_phases_rad_);
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    if (!circuit_scanned_[c]) continue;
    if (circuit_dirty_[c]) {
      const CircuitLayout& circuit = layout_.circuits[c];
      circuits_[c]->SetPhases(all.subspan(circuit.first_phase, circuit.phase_count));
      circuit_dirty_[c] = 0;
    }
    if (circuit_offset_stale_[c]) {
      circuits_[c]->SetCommonPhaseOffset(built_drift_rad_);
      circuit_offset_stale_[c] = 0;
    }
  }
  built_ = true;
}

std::vector<double> SimChip::ReadPhotocurrentsA(int averages) {
  PHC_CHECK(averages >= 1);
  return ReadRows(modulator_volts_v_, averages, {});
}

std::vector<double> SimChip::ReadSequencePhotocurrentsA(
    std::span<const double> modulator_volts_rows, int averages, std::span<const int> detectors) {
  PHC_CHECK(averages >= 1);
  for (const int k : detectors) PHC_CHECK(k >= 0 && k < detector_count());
  const auto inputs = static_cast<std::size_t>(modulator_count());
  PHC_CHECK(inputs > 0 && modulator_volts_rows.size() % inputs == 0);
  const auto rows = static_cast<Eigen::Index>(modulator_volts_rows.size() / inputs);
  RowMajorMatrixXd volts(rows, modulator_count());
  // Row-major both: one flat loop the compiler vectorises.
  double* quantised = volts.data();
  const double lsb_v = modulator_lsb_v_;
  if (lsb_v > 0.0) {
    for (std::size_t k = 0; k < modulator_volts_rows.size(); ++k) {
      quantised[k] = RoundHalfAway(modulator_volts_rows[k] / lsb_v) * lsb_v;
    }
  } else {
    std::copy(modulator_volts_rows.begin(), modulator_volts_rows.end(), quantised);
  }
  if (rows > 0) {
    for (int i = 0; i < modulator_count(); ++i) modulator_volts_v_[i] = volts(rows - 1, i);
  }
  return ReadRows(std::span<const double>(volts.data(), modulator_volts_rows.size()), averages,
                  detectors);
}

void SimChip::DetectCircuitRows(std::size_t c, Eigen::Index first, Eigen::Index end) {
  if (end <= first) return;
  const Eigen::Index rows = end - first;
  const CircuitLayout& circuit = layout_.circuits[c];
  circuits_[c]->DetectBatch(
      input_rows_.block(first, circuit.first_input, rows, circuit.input_count),
      positive_rows_.block(first, circuit.first_output, rows, circuit.output_count),
      negative_rows_.block(first, circuit.first_output, rows, circuit.output_count));
}

std::vector<double> SimChip::ReadRows(std::span<const double> modulator_volts_rows, int averages,
                                      std::span<const int> detectors) {
  const auto rows = static_cast<Eigen::Index>(modulator_volts_rows.size()) / modulator_count();
  // The ADC's scan list, and the circuits that feed it.
  scan_.assign(detectors.begin(), detectors.end());
  if (detectors.empty()) {
    scan_.resize(detector_count());
    for (int k = 0; k < detector_count(); ++k) scan_[k] = k;
  }
  circuit_scanned_.assign(circuits_.size(), 0);
  for (const int k : scan_) circuit_scanned_[circuit_of_output_[k]] = 1;
  // Field transmission t(V) = sin(pi/2 V / V_pi): negative below 0 V
  // (bipolar modulators only).
  const std::size_t cells = modulator_volts_rows.size();
  modulation_rad_.resize(cells);
  modulation_cos_.resize(cells);
  // The constant in a local: a loop the compiler vectorises.
  const double v_pi = truth_.modulator_v_pi_v;
  for (std::size_t k = 0; k < cells; ++k) {
    modulation_rad_[k] = std::numbers::pi / 2 * modulator_volts_rows[k] / v_pi;
  }
  input_rows_.resize(rows, modulator_count());
  SinCos(modulation_rad_, std::span<double>(input_rows_.data(), cells), modulation_cos_);
  input_rows_ *= std::sqrt(truth_.laser_power_mw);
  // Every scanned circuit writes all of its entries (OpticalCircuit::DetectBatch).
  positive_rows_.resize(rows, detector_count());
  negative_rows_.resize(rows, detector_count());

  const double sample_time_s = description_.detector().sample_time_us() * 1e-6;
  const auto window =
      std::chrono::nanoseconds(static_cast<std::int64_t>(averages * sample_time_s * 1e9));
  // Each scanned circuit propagates its rows in runs over which its own
  // phases held still: a settling heater splits the runs of its circuit only
  // (of every circuit if the common drift moved).
  UpdateCircuits();
  circuit_first_row_.assign(circuits_.size(), 0);
  for (Eigen::Index r = 1; r < rows; ++r) {
    Advance(window);  // row r - 1's conversions
    if (!CollectMovedPhases()) continue;
    for (std::size_t c = 0; c < circuits_.size(); ++c) {
      if (!circuit_scanned_[c] || (!circuit_dirty_[c] && !drift_moved_)) continue;
      DetectCircuitRows(c, circuit_first_row_[c], r);
      circuit_first_row_[c] = r;
    }
    RebuildMovedCircuits();
  }
  for (std::size_t c = 0; c < circuits_.size(); ++c) {
    if (circuit_scanned_[c]) DetectCircuitRows(c, circuit_first_row_[c], rows);
  }

  const std::size_t scanned = scan_.size();
  mean_a_.resize(static_cast<std::size_t>(rows) * scanned);
  through_a_.resize(mean_a_.size());
  const auto all = static_cast<std::size_t>(detector_count());
  for (Eigen::Index r = 0; r < rows; ++r) {
    // Row by row (the rows are row-major), the scanned detectors in order.
    const double* positive = positive_rows_.data() + r * all;
    const double* negative = negative_rows_.data() + r * all;
    double* mean = mean_a_.data() + r * scanned;
    double* through = through_a_.data() + r * scanned;
    for (std::size_t j = 0; j < scanned; ++j) {
      const int k = scan_[j];
      const double responsivity = truth_.responsivity_a_per_w[k];
      // Balanced pairs (microring banks' drop/through, coherent cores'
      // homodyne pairs): the two dark currents cancel, their shot noise adds.
      mean[j] = responsivity * (positive[k] - negative[k]) * 1e-3 + detector_dark_mean_a_[k];
      through[j] = responsivity * (positive[k] + negative[k]) * 1e-3 + detector_dark_shot_a_[k];
    }
  }
  std::vector<double> currents_a(mean_a_.size());
  detector_.DigitiseAll(mean_a_, through_a_, averages, noise_rng_, currents_a);
  if (rows > 0) Advance(window);  // the last row's conversions
  return currents_a;
}

}  // namespace photonsim
