#include "daemon/chip/heater_bank.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "photonsim/phase.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

// PowerGuard checks currents and powers against the lowest resistance the
// description's fabrication spread allows (3 sigma): a heater whose true
// resistance is low draws more than the nominal value says.
photonic::v1::HeaterSpec WorstCaseHeater(const photonic::v1::ChipDescription& chip) {
  photonic::v1::HeaterSpec heater = chip.heater();
  heater.set_resistance_ohm(heater.resistance_ohm() * WorstCaseResistanceRatio(chip));
  return heater;
}

HeaterLimits LimitsOf(const photonic::v1::ChipDescription& chip) {
  return {.max_voltage_v = chip.heater().max_voltage_v(),
          .max_current_ma = chip.heater().max_current_ma(),
          .max_total_power_mw = chip.max_total_heater_power_mw()};
}

}  // namespace

HeaterBank::HeaterBank(const photonic::v1::ChipDescription& chip, drivers::HeaterDriver& driver,
                       drivers::Clock& clock, std::chrono::nanoseconds settle_time,
                       std::function<void()> lost_state)
    : spec_(chip.heater()),
      power_ceiling_mw_(chip.max_total_heater_power_mw()),
      heater_model_(chip.heater()),
      guard_(LimitsOf(chip), NominalHeaterModel(WorstCaseHeater(chip)), chip.heater().dac_bits()),
      phase_model_(HeaterPhaseModel::Nominal(chip)),
      driver_(driver),
      clock_(clock),
      settle_time_(settle_time),
      lost_state_(std::move(lost_state)),
      trimmed_phase_rad_(driver.channel_count()),
      phases_rad_(phase_model_.PhasesForPowers(std::vector<double>(driver.channel_count(), 0.0))),
      volts_v_(driver.channel_count(), 0.0) {
  for (const auto& trim : chip.trimmed_phases()) {
    PHC_CHECK(trim.phase() < trimmed_phase_rad_.size());  // a validated description
    trimmed_phase_rad_[trim.phase()] = trim.phase_rad();
    trimmed_channels_.push_back(static_cast<int>(trim.phase()));
  }
}

absl::Status HeaterBank::CheckTrimmed(int channel, double wrapped_phase_rad) const {
  if (!trimmed_phase_rad_[channel]) return absl::OkStatus();
  const double trimmed = *trimmed_phase_rad_[channel];
  const double off = photonsim::WrapPhase(wrapped_phase_rad - trimmed);
  if (std::min(off, photonsim::kTwoPi - off) <= kTrimmedPhaseToleranceRad) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("phase ", channel, " is trimmed (a passive shifter without a heater) at ",
                   trimmed, " rad; it cannot be set to ", wrapped_phase_rad, " rad"));
}

absl::Status HeaterBank::CheckTrimmedVolts(std::span<const double> volts_v) const {
  for (const int ch : trimmed_channels_) {
    if (volts_v[ch] != 0.0) {
      return absl::InternalError(absl::StrCat("a heater plan puts ", volts_v[ch],
                                              " V on trimmed channel ", ch, "; nothing written"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> HeaterBank::PlanPhases(
    std::span<const double> phases_rad, std::span<const std::uint32_t> indices) const {
  const int n = count();
  if (indices.empty()) {
    if (static_cast<int>(phases_rad.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat("phases_rad has ", phases_rad.size(),
                                                     " entries; the chip has ", n,
                                                     " phases (give indices to set a subset)"));
    }
  } else if (indices.size() != phases_rad.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "indices has ", indices.size(), " entries but phases_rad has ", phases_rad.size()));
  }
  std::vector<double> planned = phases_rad_;
  for (const int ch : trimmed_channels_) planned[ch] = *trimmed_phase_rad_[ch];
  std::vector<bool> seen(indices.empty() ? 0 : n, false);
  for (std::size_t i = 0; i < phases_rad.size(); ++i) {
    if (!std::isfinite(phases_rad[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("phases_rad[", i, "] = ", phases_rad[i], " is not a finite number"));
    }
    std::size_t target = i;
    if (!indices.empty()) {
      if (indices[i] >= static_cast<std::uint32_t>(n)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "indices[", i, "] = ", indices[i], " is out of range (the chip has ", n, " phases)"));
      }
      target = indices[i];
      if (seen[target]) {
        return absl::InvalidArgumentError(
            absl::StrCat("indices[", i, "] = ", indices[i], " appears more than once"));
      }
      seen[target] = true;
    }
    planned[target] = photonsim::WrapPhase(phases_rad[i]);
    if (absl::Status s = CheckTrimmed(static_cast<int>(target), planned[target]); !s.ok()) {
      return s;
    }
    // A trimmed phase is exactly its designed value: zero power.
    if (trimmed_phase_rad_[target]) planned[target] = *trimmed_phase_rad_[target];
  }
  return planned;
}

double HeaterBank::VoltsForPowerMw(double power_mw) const {
  return guard_.DacVolts(std::sqrt(power_mw * 1e-3 * heater_model_.resistance_ohm()));
}

absl::StatusOr<HeaterPlan> HeaterBank::Guard(std::vector<double> wrapped_phases) const {
  HeaterPlan plan{
      .phases_rad = std::move(wrapped_phases), .volts_v = {}, .phase_model = phase_model_count_};
  const std::vector<double>& wanted = plan.phases_rad;
  const int n = count();
  plan.volts_v.resize(n);
  if (phase_model_.has_crosstalk()) {
    const std::vector<double> powers_mw = phase_model_.PowersForPhases(wanted);
    // The powers must really give the phases (the crosstalk solve converged).
    const std::vector<double> reached = phase_model_.PhasesForPowers(powers_mw);
    for (int i = 0; i < n; ++i) {
      if (absl::Status s = guard_.CheckReached(i, wanted[i], reached[i]); !s.ok()) return s;
    }
    for (int i = 0; i < n; ++i) plan.volts_v[i] = VoltsForPowerMw(powers_mw[i]);
  } else {
    // Channel by channel; an unchanged phase keeps the volts it was planned with.
    for (int i = 0; i < n; ++i) {
      if (volts_follow_phases_ && wanted[i] == phases_rad_[i]) {
        plan.volts_v[i] = volts_v_[i];
        continue;
      }
      const double power_mw = phase_model_.PowerForPhase(i, wanted[i]);
      if (absl::Status s =
              guard_.CheckReached(i, wanted[i], phase_model_.PhaseForPower(i, power_mw));
          !s.ok()) {
        return s;
      }
      plan.volts_v[i] = VoltsForPowerMw(power_mw);
    }
  }
  if (absl::Status s = CheckTrimmedVolts(plan.volts_v); !s.ok()) return s;
  if (absl::Status s = guard_.CheckHeaterVoltages(plan.volts_v); !s.ok()) return s;
  return plan;
}

absl::Status HeaterBank::Write(HeaterPlan plan) {
  if (plan.phase_model != phase_model_count_) {
    return absl::FailedPreconditionError(
        "heater plan made under an earlier phase model (the chip was calibrated since): plan "
        "the phases again");
  }
  if (absl::Status s = WriteVolts(std::move(plan.volts_v), std::move(plan.phases_rad)); !s.ok()) {
    return s;
  }
  volts_follow_phases_ = true;
  return absl::OkStatus();
}

absl::Status HeaterBank::SetPowers(std::span<const double> powers_mw) {
  const int n = count();
  if (static_cast<int>(powers_mw.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("powers has ", powers_mw.size(), " entries; the chip has ", n, " heaters"));
  }
  std::vector<double> volts_v(n);
  for (int ch = 0; ch < n; ++ch) {
    if (!(powers_mw[ch] >= 0.0 && std::isfinite(powers_mw[ch]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("powers[", ch, "] = ", powers_mw[ch], " is not a finite power >= 0"));
    }
    if (trimmed_phase_rad_[ch] && powers_mw[ch] != 0.0) {
      return absl::InvalidArgumentError(
          absl::StrCat("powers[", ch, "] = ", powers_mw[ch], ": phase ", ch,
                       " is trimmed (a passive shifter without a heater); its power must be 0"));
    }
    volts_v[ch] = VoltsForPowerMw(powers_mw[ch]);
  }
  if (absl::Status s = guard_.CheckHeaterVoltages(volts_v); !s.ok()) return s;
  volts_follow_phases_ = false;
  return WriteVolts(std::move(volts_v), phase_model_.PhasesForPowers(powers_mw));
}

absl::Status HeaterBank::WriteVolts(std::vector<double> volts_v, std::vector<double> phases) {
  // Only channels whose voltage changes are written (with crosstalk
  // compensation, one phase can move its neighbours' voltages too).
  std::vector<int> channels;
  for (int ch = 0; ch < count(); ++ch) {
    if (volts_v[ch] != volts_v_[ch]) channels.push_back(ch);
  }
  if (absl::Status s = RampChannels(channels, volts_v); !s.ok()) {
    // The driver may have written part of the request: resynchronise.
    volts_follow_phases_ = false;
    spdlog::error("heater write failed: {}", s.ToString());
    if (absl::StatusOr<std::vector<double>> readback = driver_.ReadVoltages(); readback.ok()) {
      volts_v_ = *readback;
      std::vector<double> powers(count());
      for (int ch = 0; ch < count(); ++ch)
        powers[ch] = heater_model_.PowerMwForVoltage(volts_v_[ch]);
      phases_rad_ = phase_model_.PhasesForPowers(powers);
      clock_.SleepFor(settle_time_);
    } else {
      spdlog::critical("heater readback failed too ({}); driving the chip to its safe state",
                       readback.status().ToString());
      lost_state_();
    }
    return s;
  }
  phases_rad_ = std::move(phases);
  volts_v_ = std::move(volts_v);
  return absl::OkStatus();
}

absl::Status HeaterBank::RampChannels(std::span<const int> channels,
                                      const std::vector<double>& target_v) {
  // Ramp in equal steps no larger than max_step_v. Every intermediate state
  // lies between two guarded states: per channel |V| is between its ends
  // and the total power V^2 is convex in the step, so it stays in budget.
  if (channels.empty()) return absl::OkStatus();  // nothing changes
  const double max_step_v = spec_.max_step_v();
  double largest_change_v = 0.0;
  for (int ch : channels) {
    largest_change_v = std::max(largest_change_v, std::abs(target_v[ch] - volts_v_[ch]));
  }
  const int steps = max_step_v > 0.0
                        ? std::max(1, static_cast<int>(std::ceil(largest_change_v / max_step_v)))
                        : 1;
  // Within a step, channels whose power falls are written before those whose
  // power rises, so a driver that applies channels one at a time never holds
  // more total power than the larger of the two guarded states.
  std::vector<int> falling, rising;
  for (int ch : channels) {
    (std::abs(target_v[ch]) < std::abs(volts_v_[ch]) ? falling : rising).push_back(ch);
  }
  const std::vector<double> start_v = volts_v_;
  std::vector<double> step_v;
  for (int s = 1; s <= steps; ++s) {
    const double t = static_cast<double>(s) / steps;
    AccountEnergy();  // energy up to now was spent at the previous step's volts
    for (const std::vector<int>* group : {&falling, &rising}) {
      if (group->empty()) continue;
      step_v.resize(group->size());
      for (std::size_t i = 0; i < group->size(); ++i) {
        const int ch = (*group)[i];
        step_v[i] = s == steps ? target_v[ch] : start_v[ch] + t * (target_v[ch] - start_v[ch]);
      }
      if (absl::Status st = driver_.SetVoltages(*group, step_v); !st.ok()) return st;
      for (std::size_t i = 0; i < group->size(); ++i) volts_v_[(*group)[i]] = step_v[i];
    }
    clock_.SleepFor(settle_time_);  // let the phases settle before any read
  }
  return absl::OkStatus();
}

absl::Status HeaterBank::DriveToZero() {
  std::vector<int> channels(count());
  for (int ch = 0; ch < count(); ++ch) channels[ch] = ch;
  const std::vector<double> zeros(count(), 0.0);
  AccountEnergy();
  volts_follow_phases_ = false;
  if (absl::Status s = driver_.SetVoltages(channels, zeros); !s.ok()) return s;
  volts_v_.assign(count(), 0.0);
  phases_rad_ = phase_model_.PhasesForPowers(zeros);  // the chip's own biases
  clock_.SleepFor(settle_time_);
  return absl::OkStatus();
}

void HeaterBank::InstallPhaseModel(HeaterPhaseModel model) {
  phase_model_ = std::move(model);
  ++phase_model_count_;
  volts_follow_phases_ = false;
  std::vector<double> powers(count());
  for (int ch = 0; ch < count(); ++ch) powers[ch] = heater_model_.PowerMwForVoltage(volts_v_[ch]);
  phases_rad_ = phase_model_.PhasesForPowers(powers);
}

absl::Status HeaterBank::SetBudget(double max_total_power_mw) {
  if (!(max_total_power_mw > 0.0 && max_total_power_mw <= power_ceiling_mw_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_total_heater_power_mw = ", max_total_power_mw, " must be in (0, ",
                     power_ceiling_mw_, "] mW (the chip description's ceiling)"));
  }
  const double present_mw = guard_.TotalPowerMw(volts_v_);
  if (present_mw > max_total_power_mw) {
    return absl::FailedPreconditionError(
        absl::StrCat("the heaters draw ", present_mw, " mW now, more than the requested budget of ",
                     max_total_power_mw, " mW; lower the phases first"));
  }
  guard_.set_max_total_power_mw(max_total_power_mw);
  return absl::OkStatus();
}

void HeaterBank::AccountEnergy() {
  const std::chrono::nanoseconds now = clock_.Now();
  double total_mw = 0.0;
  for (double v : volts_v_) total_mw += heater_model_.PowerMwForVoltage(v);
  energy_mj_ += total_mw * std::chrono::duration<double>(now - energy_checkpoint_).count();
  energy_checkpoint_ = now;
}

PhaseState HeaterBank::State() const {
  PhaseState state;
  const double since_checkpoint_s =
      std::chrono::duration<double>(clock_.Now() - energy_checkpoint_).count();
  state.phases_rad = phases_rad_;
  state.heater_power_mw.resize(count());
  for (int ch = 0; ch < count(); ++ch) {
    state.heater_power_mw[ch] = heater_model_.PowerMwForVoltage(volts_v_[ch]);
    state.total_heater_power_mw += state.heater_power_mw[ch];
  }
  state.heater_energy_mj = energy_mj_ + state.total_heater_power_mw * since_checkpoint_s;
  return state;
}

}  // namespace phc::daemon
