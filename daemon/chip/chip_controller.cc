#include "daemon/chip/chip_controller.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <optional>

#include "absl/strings/str_cat.h"
#include "daemon/chip/heater_model.h"
#include "photonsim/phase.h"
#include "photonsim/vector_math.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

constexpr auto kLinkWatchPeriod = std::chrono::milliseconds(250);

}  // namespace

absl::StatusOr<std::unique_ptr<ChipController>> ChipController::Create(
    const photonic::v1::ChipDescription& chip, drivers::DriverSet drivers,
    double settle_time_constants) {
  if (!drivers.heaters || !drivers.modulators || !drivers.detectors || !drivers.clock) {
    return absl::InvalidArgumentError("chip controller: a driver or the clock is missing");
  }
  if (!(settle_time_constants >= 0.0 && settle_time_constants <= 1000.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("settle_time_constants must be in [0, 1000], got ", settle_time_constants));
  }
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  if (drivers.heaters->channel_count() != layout.phase_count ||
      drivers.modulators->channel_count() != layout.input_count ||
      drivers.detectors->channel_count() != layout.output_count) {
    return absl::FailedPreconditionError(absl::StrCat(
        "chip controller: drivers have ", drivers.heaters->channel_count(), " heater, ",
        drivers.modulators->channel_count(), " modulator and ", drivers.detectors->channel_count(),
        " detector channels; chip \"", chip.name(), "\" needs ", layout.phase_count, ", ",
        layout.input_count, " and ", layout.output_count));
  }
  if (chip.modulator().bipolar() && !(drivers.modulators->min_voltage_v() < 0.0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "chip controller: chip \"", chip.name(),
        "\" has bipolar (push-pull) modulators, but the modulator driver's range starts at ",
        drivers.modulators->min_voltage_v(), " V: it cannot drive negative amplitudes"));
  }
  const auto settle_time = std::chrono::nanoseconds(
      static_cast<std::int64_t>(settle_time_constants * chip.thermal().tau_us() * 1e3));
  std::unique_ptr<ChipController> controller(
      new ChipController(chip, std::move(drivers), settle_time));
  ChipController* raw = controller.get();
  if (absl::Status s = controller->RunSync([raw] { return raw->DriveToSafeState(); }); !s.ok()) {
    return s;
  }
  if (raw->drivers_.links) raw->Post([raw] { raw->WatchLinks(); });
  return controller;
}

ChipController::ChipController(const photonic::v1::ChipDescription& chip,
                               drivers::DriverSet drivers, std::chrono::nanoseconds settle_time)
    : chip_(chip),
      layout_(photonsim::BuildChipLayout(chip)),
      output_dark_a_(layout_.output_count, chip.detector().dark_current_na() * 1e-9),
      drivers_(std::move(drivers)),
      settle_time_(settle_time),
      phase_count_(drivers_.heaters->channel_count()),
      input_count_(drivers_.modulators->channel_count()),
      output_count_(drivers_.detectors->channel_count()),
      heaters_(chip, *drivers_.heaters, *drivers_.clock, settle_time,
               [this] { DriveToSafeState().IgnoreError(); }),
      amplitudes_(input_count_, 0.0),
      work_(io_.get_executor()),
      link_timer_(io_),
      thread_([this] { RunHardwareThread(); }) {
  for (int k = 0; k < output_count_; ++k) all_outputs_.push_back(k);
  for (const photonsim::CircuitLayout& circuit : layout_.circuits) {
    if (!photonsim::HasBalancedOutputs(circuit)) continue;
    for (int k = 0; k < circuit.output_count; ++k) output_dark_a_[circuit.first_output + k] = 0.0;
  }
}

void ChipController::RunHardwareThread() {
  // A task that throws (a bug) must not end the thread and leave the heaters
  // powered: log it, drive the chip safe, and keep serving.
  while (true) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::critical("bug: hardware task threw: {}; driving the chip to its safe state",
                       e.what());
    } catch (...) {
      spdlog::critical("bug: hardware task threw; driving the chip to its safe state");
    }
    try {
      DriveToSafeState().IgnoreError();
    } catch (...) {
      spdlog::critical("could not drive the chip to its safe state");
    }
  }
}

ChipController::~ChipController() {
  workers_.join();  // long work ends first: it may still post to the hardware thread
  boost::asio::post(io_, [this] {
    const HardwareHold hold = AcquireHardware(true);
    stopping_ = true;
    link_timer_.cancel();
  });
  work_.reset();
  thread_.join();
}

void ChipController::WatchLinks() {
  if (stopping_) return;
  CheckLinks().IgnoreError();
  link_timer_.expires_after(kLinkWatchPeriod);
  link_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    const HardwareHold hold = AcquireHardware(true);
    WatchLinks();
  });
}

absl::Status ChipController::CheckLinks() {
  drivers::LinkHealth* links = drivers_.links.get();
  if (links == nullptr) return absl::OkStatus();
  if (!links->AllUp()) links->Reconnect();
  if (!links->AllUp()) {
    if (!safed_since_loss_) {
      safed_since_loss_ = true;
      spdlog::error(
          "instrument link lost ({}); driving heaters and modulators to 0 V where "
          "still possible; reconnecting",
          links->Describe());
      DriveToSafeState().IgnoreError();
    }
    return absl::UnavailableError(
        absl::StrCat("instrument link lost: ", links->Describe(),
                     "; photonicd reconnects automatically (health is NOT_SERVING until then)"));
  }
  if (links->restorations() == seen_restorations_) return absl::OkStatus();
  seen_restorations_ = links->restorations();
  safed_since_loss_ = false;
  spdlog::warn(
      "instrument links restored; driving the chip to its safe state (the settings "
      "behind a lost link are unknown)");
  return DriveToSafeState();
}

void ChipController::Post(std::function<void()> op) {
  HardwareTaskObserver* observer = task_observer_.load(std::memory_order_acquire);
  if (observer == nullptr) {
    boost::asio::post(io_, [this, op = std::move(op)] {
      const HardwareHold hold = AcquireHardware(true);
      op();
    });
    return;
  }
  observer->Queued();
  boost::asio::post(
      io_, [this, observer, op = std::move(op), queued = std::chrono::steady_clock::now()] {
        const HardwareHold hold = AcquireHardware(true);
        const auto start = std::chrono::steady_clock::now();
        // Reported even when the task throws (a bug the thread survives).
        struct Report {
          HardwareTaskObserver* observer;
          std::chrono::steady_clock::time_point queued, start;
          ~Report() { observer->Done(start - queued, std::chrono::steady_clock::now() - start); }
        } report{observer, queued, start};
        op();
      });
}

void ChipController::PostWork(std::function<void()> op) {
  boost::asio::post(workers_, std::move(op));
}

bool ChipController::OnHardwareThread() const {
  return hardware_holder_.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

ChipController::HardwareHold ChipController::AcquireHardware(bool urgent) const
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (OnHardwareThread()) return HardwareHold(nullptr);
  if (urgent) {
    hardware_.LockUrgent();
  } else {
    hardware_.LockBackground();
  }
  hardware_holder_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  return HardwareHold(this);
}

void ChipController::ReleaseHardwareWhile(const std::function<void()>& wait) const
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!OnHardwareThread()) {
    spdlog::critical("bug: ReleaseHardwareWhile without holding the hardware");
    std::abort();
  }
  ReleaseHardware();
  wait();
  hardware_.LockUrgent();
  hardware_holder_.store(std::this_thread::get_id(), std::memory_order_relaxed);
}

void ChipController::ReleaseHardware() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
  hardware_holder_.store(std::thread::id(), std::memory_order_relaxed);
  hardware_.Unlock();
}

absl::StatusOr<HeaterPlan> ChipController::PlanHeaters(
    std::span<const double> phases_rad, std::span<const std::uint32_t> indices) const {
  absl::StatusOr<std::vector<double>> wanted = heaters_.PlanPhases(phases_rad, indices);
  if (!wanted.ok()) return wanted.status();
  return heaters_.Guard(*std::move(wanted));
}

absl::Status ChipController::SetHeaterPowers(std::span<const double> powers_mw) {
  const HardwareHold hold = Hold();
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  return heaters_.SetPowers(powers_mw);
}

void ChipController::InstallPhaseModel(HeaterPhaseModel model) {
  const HardwareHold hold = Hold();
  heaters_.InstallPhaseModel(std::move(model));
}

absl::Status ChipController::CheckClientMayWrite() const {
  const HardwareHold hold = Hold();
  if (!write_lease_.has_value()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the chip is leased to ", write_lease_->Describe(),
                   ": reads work, writes wait until it is cancelled or ends"));
}

absl::Status ChipController::TakeWriteLease(const WriteLeaseHolder& holder) {
  const HardwareHold hold = Hold();
  if (write_lease_.has_value() && *write_lease_ != holder) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the chip is leased to ", write_lease_->Describe(), "; cancel it or wait for it to end"));
  }
  write_lease_ = holder;
  return absl::OkStatus();
}

void ChipController::ReleaseWriteLease(const WriteLeaseHolder& holder) {
  const HardwareHold hold = Hold();
  if (write_lease_ == holder) write_lease_.reset();
}

absl::Status ChipController::SetPowerBudget(double max_total_heater_power_mw) {
  const HardwareHold hold = Hold();
  const double present_budget_mw = heaters_.guard().limits().max_total_power_mw;
  const bool in_range =
      max_total_heater_power_mw > 0.0 && max_total_heater_power_mw <= heaters_.power_ceiling_mw();
  if (in_range && write_lease_.has_value() && max_total_heater_power_mw > present_budget_mw) {
    return absl::FailedPreconditionError(
        absl::StrCat("the chip is leased to ", write_lease_->Describe(),
                     ": the power budget may be lowered, not raised (", max_total_heater_power_mw,
                     " mW > ", present_budget_mw, " mW)"));
  }
  if (absl::Status s = heaters_.SetBudget(max_total_heater_power_mw); !s.ok()) return s;
  spdlog::info("heater power budget set to {} mW", max_total_heater_power_mw);
  return absl::OkStatus();
}

absl::StatusOr<PhaseState> ChipController::SetPhases(std::span<const double> phases_rad,
                                                     std::span<const std::uint32_t> indices) {
  const HardwareHold hold = Hold();
  if (absl::Status s = WritePhases(phases_rad, indices); !s.ok()) return s;
  return heaters_.State();
}

absl::Status ChipController::WritePhases(std::span<const double> phases_rad,
                                         std::span<const std::uint32_t> indices) {
  const HardwareHold hold = Hold();
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  absl::StatusOr<HeaterPlan> plan = PlanHeaters(phases_rad, indices);
  if (!plan.ok()) return plan.status();
  return heaters_.Write(*std::move(plan));
}

PhaseState ChipController::GetPhases() const {
  const HardwareHold hold = Hold();
  return heaters_.State();
}

absl::StatusOr<std::vector<double>> ChipController::PlanInputs(
    std::span<const double> amplitudes) const {
  std::vector<double> volts_v(amplitudes.size());
  if (absl::Status s = PlanInputsInto(amplitudes, volts_v); !s.ok()) return s;
  return volts_v;
}

absl::Status ChipController::PlanInputsInto(std::span<const double> amplitudes,
                                            std::span<double> volts_v) const {
  if (static_cast<int>(amplitudes.size()) != input_count_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "amplitudes has ", amplitudes.size(), " entries; the chip has ", input_count_, " inputs"));
  }
  // Push-pull modulators at null reach negative fields; others start at 0.
  // Each check is one pass without an early exit (it vectorises); only a
  // failing pass looks for the first culprit to name.
  const double min_amplitude = chip_.modulator().bipolar() ? -1.0 : 0.0;
  auto amplitude_ok = [&](double a) { return a >= min_amplitude && a <= 1.0; };
  bool all_ok = true;
  for (const double a : amplitudes) all_ok &= amplitude_ok(a);
  for (std::size_t i = 0; !all_ok && i < amplitudes.size(); ++i) {
    if (!amplitude_ok(amplitudes[i])) {
      return absl::InvalidArgumentError(absl::StrCat("amplitudes[", i, "] = ", amplitudes[i],
                                                     " is outside [", min_amplitude, ", 1]"));
    }
  }
  const double max_v = drivers_.modulators->max_voltage_v();
  const double min_v = drivers_.modulators->min_voltage_v();
  ModulatorVolts(amplitudes, volts_v);
  for (const double v : volts_v) all_ok &= v >= min_v && v <= max_v;
  for (std::size_t i = 0; !all_ok && i < volts_v.size(); ++i) {
    if (volts_v[i] > max_v) {
      return absl::FailedPreconditionError(absl::StrCat("modulator ", i, " would need ", volts_v[i],
                                                        " V, over its limit of ", max_v, " V"));
    }
    if (volts_v[i] < min_v) {
      return absl::FailedPreconditionError(absl::StrCat("modulator ", i, " would need ", volts_v[i],
                                                        " V, under its limit of ", min_v, " V"));
    }
  }
  return absl::OkStatus();
}

void ChipController::ModulatorVolts(std::span<const double> amplitudes,
                                    std::span<double> volts_v) const {
  // Field transmission t = sin(pi/2 * V / V_pi)  =>  V = 2 V_pi / pi * asin(t), within
  // [-V_pi, V_pi] (negative t: bipolar modulators only, checked by PlanInputs).
  // asin in vector batches (SLEEF, 1 ULP; photonsim/vector_math.h), exact 0
  // for a dark input; "+ 0.0" turns a -0 amplitude's -0 V into +0 V, as the
  // serial drivers print volts as text.
  photonsim::Asin(amplitudes, volts_v);
  const double v_pi = chip_.modulator().v_pi_v();
  const double volts_per_rad = 2.0 * v_pi / std::numbers::pi;
  for (double& v : volts_v) v = std::clamp(volts_per_rad * v, -v_pi, v_pi) + 0.0;
}

absl::Status ChipController::WriteInputs(std::span<const double> amplitudes) {
  std::vector<double> volts_v(amplitudes.size());
  ModulatorVolts(amplitudes, volts_v);
  return WriteInputVolts(volts_v, amplitudes);
}

absl::Status ChipController::WriteInputVolts(std::span<const double> volts_v,
                                             std::span<const double> amplitudes) {
  if (absl::Status s = drivers_.modulators->SetVoltages(volts_v); !s.ok()) return s;
  amplitudes_.assign(amplitudes.begin(), amplitudes.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> ChipController::SetInputs(std::span<const double> amplitudes) {
  const HardwareHold hold = Hold();
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  absl::StatusOr<std::vector<double>> volts_v = PlanInputs(amplitudes);
  if (!volts_v.ok()) return volts_v.status();
  if (absl::Status s = WriteInputVolts(*volts_v, amplitudes); !s.ok()) return s;
  return amplitudes_;
}

absl::StatusOr<int> ChipController::ValidateAverages(std::uint32_t averages) const {
  if (averages > static_cast<std::uint32_t>(kMaxAverages)) {
    return absl::InvalidArgumentError(
        absl::StrCat("averages = ", averages, " exceeds the maximum of ", kMaxAverages));
  }
  return averages == 0 ? 1 : static_cast<int>(averages);
}

absl::StatusOr<DetectorReading> ChipController::ReadDetectors(std::uint32_t averages) {
  const HardwareHold hold = Hold();
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  absl::StatusOr<int> count = ValidateAverages(averages);
  if (!count.ok()) return count.status();
  absl::StatusOr<std::vector<double>> currents_a = drivers_.detectors->ReadCurrentsA(*count);
  if (!currents_a.ok()) return currents_a.status();
  DetectorReading reading;
  reading.averages = *count;
  reading.optical_power_mw.resize(output_count_);
  CurrentsToPowerMw(*currents_a, all_outputs_, reading.optical_power_mw);
  for (double current_a : *currents_a) reading.photocurrent_ua.push_back(current_a * 1e6);
  last_photocurrent_ua_.assign(reading.photocurrent_ua.begin(), reading.photocurrent_ua.end());
  return reading;
}

void ChipController::CurrentsToPowerMw(std::span<const double> currents_a,
                                       std::span<const int> scan,
                                       std::span<double> power_mw) const {
  const double responsivity = chip_.detector().responsivity_a_per_w();
  for (std::size_t j = 0; j < scan.size(); ++j) {
    power_mw[j] = (currents_a[j] - output_dark_a_[scan[j]]) / responsivity * 1e3;
  }
}

absl::StatusOr<std::vector<double>> ChipController::QueryBatch(
    std::span<const double> amplitude_rows, std::uint32_t averages, std::span<const int> outputs) {
  const HardwareHold hold = Hold();
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  const std::size_t inputs = static_cast<std::size_t>(input_count_);
  if (inputs == 0 || amplitude_rows.size() % inputs != 0) {
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", amplitude_rows.size(),
                                                   " amplitudes is not rows of the chip's ",
                                                   input_count_, " inputs"));
  }
  absl::StatusOr<int> count = ValidateAverages(averages);
  if (!count.ok()) return count.status();
  if (absl::Status s = photonsim::ValidateOutputScan(output_count_, outputs); !s.ok()) return s;
  const std::span<const int> scan = outputs.empty() ? std::span<const int>(all_outputs_) : outputs;
  const std::size_t rows = amplitude_rows.size() / inputs;
  auto row_of = [&](std::span<const double> all, std::size_t r, std::size_t width) {
    return all.subspan(r * width, width);
  };
  std::vector<double> volts_v(amplitude_rows.size());
  for (std::size_t r = 0; r < rows; ++r) {
    if (absl::Status s = PlanInputsInto(row_of(amplitude_rows, r, inputs),
                                        std::span<double>(volts_v).subspan(r * inputs, inputs));
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("row ", r, ": ", s.message()));
    }
  }
  query_count_.fetch_add(rows, std::memory_order_relaxed);
  const std::size_t scanned = scan.size();
  std::vector<double> power_mw(rows * scanned);
  if (rows == 0) return power_mw;
  if (drivers_.sweeps == nullptr) {
    for (std::size_t r = 0; r < rows; ++r) {
      if (absl::Status s =
              WriteInputVolts(row_of(volts_v, r, inputs), row_of(amplitude_rows, r, inputs));
          !s.ok()) {
        return s;
      }
      absl::StatusOr<DetectorReading> reading = ReadDetectors(*count);
      if (!reading.ok()) return reading.status();
      for (std::size_t j = 0; j < scanned; ++j) {
        power_mw[r * scanned + j] = reading->optical_power_mw[scan[j]];
      }
    }
    return power_mw;
  }
  // At most kMaxSweepRows per sweep: an AWG's memory is finite, and the
  // simulator's scratch grows with rows x outputs x averages.
  const std::span<const double> all_volts(volts_v);
  for (std::size_t first = 0; first < rows; first += kMaxSweepRows) {
    const std::size_t count_rows = std::min(kMaxSweepRows, rows - first);
    absl::StatusOr<std::vector<double>> currents_a = drivers_.sweeps->Sweep(
        all_volts.subspan(first * inputs, count_rows * inputs), *count, outputs);
    // The DAC holds the sweep's last row, or what it reached before failing.
    const std::span<const double> last_row = row_of(amplitude_rows, first + count_rows - 1, inputs);
    amplitudes_.assign(last_row.begin(), last_row.end());
    if (!currents_a.ok()) return currents_a.status();
    if (currents_a->size() != count_rows * scanned) {
      return absl::InternalError(absl::StrCat("the sweep returned ", currents_a->size(),
                                              " currents for ", count_rows, " rows of ", scanned));
    }
    for (std::size_t r = 0; r < count_rows; ++r) {
      CurrentsToPowerMw(row_of(*currents_a, r, scanned), scan,
                        std::span<double>(power_mw).subspan((first + r) * scanned, scanned));
    }
    last_photocurrent_ua_.resize(output_count_, 0.0);
    const std::span<const double> last = row_of(*currents_a, count_rows - 1, scanned);
    for (std::size_t j = 0; j < scanned; ++j) last_photocurrent_ua_[scan[j]] = last[j] * 1e6;
  }
  return power_mw;
}

absl::StatusOr<DetectorReading> ChipController::Query(const QueryConfig& config) {
  const HardwareHold hold = Hold();
  query_count_.fetch_add(1, std::memory_order_relaxed);
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  std::optional<HeaterPlan> heater_plan;
  if (!config.phases_rad.empty()) {
    absl::StatusOr<HeaterPlan> plan = PlanHeaters(config.phases_rad, {});
    if (!plan.ok()) return plan.status();
    heater_plan = *std::move(plan);
  }
  std::vector<double> input_volts_v;
  if (!config.amplitudes.empty()) {
    absl::StatusOr<std::vector<double>> inputs = PlanInputs(config.amplitudes);
    if (!inputs.ok()) return inputs.status();
    input_volts_v = *std::move(inputs);
  }
  if (absl::Status s = ValidateAverages(config.averages).status(); !s.ok()) return s;

  if (heater_plan.has_value()) {
    if (absl::Status s = heaters_.Write(*std::move(heater_plan)); !s.ok()) return s;
  }
  if (!config.amplitudes.empty()) {
    if (absl::Status s = WriteInputVolts(input_volts_v, config.amplitudes); !s.ok()) return s;
  }
  return ReadDetectors(config.averages);
}

absl::Status ChipController::QuerySequence(std::span<const QueryConfig> configs,
                                           std::vector<DetectorReading>& readings) {
  const HardwareHold hold = Hold();
  if (absl::Status s = CheckLinks(); !s.ok()) return s;
  struct Planned {
    std::optional<HeaterPlan> heaters;  // none: keep
    std::vector<double> input_volts_v;
  };
  std::vector<Planned> plans(configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const QueryConfig& config = configs[i];
    Planned& plan = plans[i];
    absl::Status s;
    if (!config.phases_rad.empty()) {
      absl::StatusOr<HeaterPlan> heaters = PlanHeaters(config.phases_rad, {});
      if (heaters.ok()) {
        plan.heaters = *std::move(heaters);
      } else {
        s = heaters.status();
      }
    }
    if (s.ok() && !config.amplitudes.empty()) {
      absl::StatusOr<std::vector<double>> volts = PlanInputs(config.amplitudes);
      if (volts.ok()) {
        plan.input_volts_v = *std::move(volts);
      } else {
        s = volts.status();
      }
    }
    if (s.ok()) s = ValidateAverages(config.averages).status();
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("configuration ", i, ": ", s.message()));
    }
  }
  readings.reserve(readings.size() + configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i) {
    Planned& plan = plans[i];
    query_count_.fetch_add(1, std::memory_order_relaxed);
    if (plan.heaters.has_value()) {
      if (absl::Status s = heaters_.Write(*std::move(plan.heaters)); !s.ok()) return s;
    }
    if (!configs[i].amplitudes.empty()) {
      if (absl::Status s = WriteInputVolts(plan.input_volts_v, configs[i].amplitudes); !s.ok()) {
        return s;
      }
    }
    absl::StatusOr<DetectorReading> reading = ReadDetectors(configs[i].averages);
    if (!reading.ok()) return reading.status();
    readings.push_back(*std::move(reading));
  }
  return absl::OkStatus();
}

absl::StatusOr<TemperatureReading> ChipController::ReadTemperature() {
  const HardwareHold hold = Hold();
  drivers::TecDriver* tec = drivers_.tec.get();
  if (tec == nullptr) {
    return absl::FailedPreconditionError(
        "this daemon has no TEC (the serial backend needs serial.tec in its config)");
  }
  absl::StatusOr<double> celsius = tec->ReadTemperatureC();
  if (!celsius.ok()) {
    return absl::Status(celsius.status().code(), absl::StrCat("TEC: ", celsius.status().message()));
  }
  TemperatureReading reading{.temperature_c = *celsius,
                             .setpoint_c = tec->setpoint_c(),
                             .min_setpoint_c = tec->min_setpoint_c(),
                             .max_setpoint_c = tec->max_setpoint_c(),
                             .drifting = false};
  const double stability_k = chip_.tec().stability_k();
  reading.drifting =
      stability_k > 0.0 && std::abs(reading.temperature_c - reading.setpoint_c) > 3.0 * stability_k;
  if (reading.drifting && !temperature_drifting_) {
    spdlog::warn(
        "chip temperature {:.3f} C is {:.3f} K off the TEC setpoint {:.3f} C (more than 3 x "
        "the description's stability of {} K): phases drift",
        reading.temperature_c, reading.temperature_c - reading.setpoint_c, reading.setpoint_c,
        stability_k);
  }
  temperature_drifting_ = reading.drifting;
  return reading;
}

absl::Status ChipController::SetTemperatureSetpoint(double celsius) {
  const HardwareHold hold = Hold();
  if (drivers_.tec == nullptr) {
    return absl::FailedPreconditionError("this daemon has no TEC");
  }
  if (absl::Status s = drivers_.tec->SetSetpointC(celsius); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("TEC: ", s.message()));
  }
  spdlog::info("TEC setpoint {:.3f} C", celsius);
  return absl::OkStatus();
}

absl::Status ChipController::DriveToSafeState() {
  const HardwareHold hold = Hold();
  absl::Status heaters = heaters_.DriveToZero();
  absl::Status inputs = WriteInputs(std::vector<double>(input_count_, 0.0));
  if (!heaters.ok()) return heaters;
  return inputs;
}

}  // namespace phc::daemon
