// ChipController: the only code that touches instrument drivers.
//
// One thread at a time holds the hardware, and only a holder touches the
// instruments or the controller's state. Short client requests run on the
// hardware thread (a Boost.Asio io_context): Post() and RunSync() hand them
// to it, and each task holds the hardware while it runs. Long work
// (calibration, training) runs on the worker pool (PostWork) and holds the
// hardware one operation at a time: each hardware operation below takes the
// hardware itself when its thread does not hold it, and a queued client task
// goes ahead of the worker's next operation. So a read waits for at most one
// hardware operation, never for a whole calibration.
// Requests are validated completely before any driver is written; a refused
// request changes nothing.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/heater_bank.h"
#include "daemon/chip/heater_model.h"
#include "daemon/chip/heater_phase_model.h"
#include "daemon/chip/power_guard.h"
#include "daemon/chip/write_lease.h"
#include "phc/base/priority_lock.h"
#include "phc/drivers/instrument_drivers.h"
#include "photonic/v1/config.pb.h"
#include "photonsim/chip_layout.h"

namespace phc::daemon {

inline constexpr int kMaxAverages = 65536;
// QueryBatch sends longer batches as several hardware sweeps of this many rows.
inline constexpr std::size_t kMaxSweepRows = 1024;
// Query messages in the batched form carry at most this many configurations.
inline constexpr std::uint32_t kMaxQueryCount = 4096;

struct DetectorReading {
  std::vector<double> photocurrent_ua;
  std::vector<double> optical_power_mw;
  int averages = 1;
};

struct TemperatureReading {
  double temperature_c = 0.0;
  double setpoint_c = 0.0;
  double min_setpoint_c = 0.0;
  double max_setpoint_c = 0.0;
  bool drifting = false;  // more than 3 x the description's stability_k off the setpoint
};

// A batched configuration: empty fields keep the chip's current setting.
struct QueryConfig {
  std::span<const double> phases_rad;  // empty or every phase
  std::span<const double> amplitudes;  // empty or every input
  std::uint32_t averages = 0;          // 0 means 1
};

// Sees every task posted to the hardware thread. Thread-safe.
class HardwareTaskObserver {
 public:
  virtual ~HardwareTaskObserver() = default;
  virtual void Queued() = 0;
  // wait: from posting to starting; run: the task itself.
  virtual void Done(std::chrono::nanoseconds wait, std::chrono::nanoseconds run) = 0;
};

class ChipController {
 public:
  // Starts the hardware thread and drives the chip to its safe state
  // (heaters and modulators at 0 V). After every heater write the
  // controller waits settle_time_constants * chip.thermal.tau_us on the
  // drivers' clock before the chip is read.
  static absl::StatusOr<std::unique_ptr<ChipController>> Create(
      const photonic::v1::ChipDescription& chip, drivers::DriverSet drivers,
      double settle_time_constants = 8.0);

  // Stops the hardware thread after the work already posted. Does not touch
  // the hardware: call DriveToSafeState() first.
  ~ChipController();

  ChipController(const ChipController&) = delete;
  ChipController& operator=(const ChipController&) = delete;

  // Thread-safe.
  const photonic::v1::ChipDescription& chip() const { return chip_; }
  const photonsim::ChipLayout& layout() const { return layout_; }
  std::chrono::nanoseconds settle_time() const { return settle_time_; }
  const std::string& backend_name() const { return drivers_.backend_name; }
  int phase_count() const { return phase_count_; }
  int input_count() const { return input_count_; }
  int output_count() const { return output_count_; }
  // The present limits (the budget can change at run time).
  HeaterLimits heater_limits() const {
    const HardwareHold hold = Hold();
    return heaters_.guard().limits();
  }
  // Runs op on the hardware thread, holding the hardware, ahead of the
  // worker pool's next operation.
  void Post(std::function<void()> op);
  // Runs op on the worker pool (two threads), without holding the hardware:
  // for computation and long staged work whose operations hold it one by one.
  void PostWork(std::function<void()> op);
  // True while this thread holds the hardware.
  bool OnHardwareThread() const;

  // Holds the hardware for its scope: an empty hold if the thread already
  // holds it, else it waits behind the holder and every queued client task.
  class [[nodiscard]] HardwareHold {
   public:
    HardwareHold(HardwareHold&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    HardwareHold& operator=(HardwareHold&&) = delete;
    ~HardwareHold() {
      if (owner_ != nullptr) owner_->ReleaseHardware();
    }

   private:
    friend class ChipController;
    explicit HardwareHold(const ChipController* owner) : owner_(owner) {}
    const ChipController* owner_;
  };
  HardwareHold Hold() const { return AcquireHardware(false); }
  // Lets other threads hold the hardware while `wait` runs, then holds it
  // again (ahead of background holders). For a task that must wait for work
  // on the worker pool, e.g. the end of a training step.
  // REQUIRES: OnHardwareThread().
  void ReleaseHardwareWhile(const std::function<void()>& wait) const;
  // Tasks posted from now on (Post, RunSync) are reported to `observer`;
  // nullptr: none. It must outlive every task posted while it is set.
  void SetTaskObserver(HardwareTaskObserver* observer) {
    task_observer_.store(observer, std::memory_order_release);
  }

  // Runs op on the hardware thread and waits for its result.
  // REQUIRES: not called on the hardware thread.
  template <typename Op>
  std::invoke_result_t<Op> RunSync(Op op) {
    if (OnHardwareThread()) std::abort();  // would wait for itself forever
    std::packaged_task<std::invoke_result_t<Op>()> task(std::move(op));
    auto result = task.get_future();
    Post([&task] { task(); });
    return result.get();
  }

  // Thread-safe counters: Query() calls, PowerGuard refusals by reason.
  std::uint64_t query_count() const { return query_count_.load(std::memory_order_relaxed); }
  GuardRefusalCounts guard_refusals() const { return heaters_.guard().refusals(); }

  // --- Hardware operations. Each holds the hardware while it runs (see
  // Hold()); accessors returning references REQUIRE OnHardwareThread(). ---

  // indices empty: phases_rad holds every phase; else phases_rad[i] is for
  // indices[i]. INVALID_ARGUMENT for malformed requests, FAILED_PRECONDITION
  // for requests over a heater limit.
  absl::StatusOr<PhaseState> SetPhases(std::span<const double> phases_rad,
                                       std::span<const std::uint32_t> indices);
  // SetPhases without building the resulting PhaseState (every heater's
  // power): for callers that write before nearly every query (training).
  absl::Status WritePhases(std::span<const double> phases_rad,
                           std::span<const std::uint32_t> indices);
  PhaseState GetPhases() const;
  // Field amplitudes in [0, 1], one per input; in [-1, 1] on a chip with
  // bipolar (push-pull) modulators. Modulator volts V = 2 V_pi / pi asin(a).
  absl::StatusOr<std::vector<double>> SetInputs(std::span<const double> amplitudes);
  const std::vector<double>& inputs() const { return amplitudes_; }
  // averages: 0 means 1.
  absl::StatusOr<DetectorReading> ReadDetectors(std::uint32_t averages);
  // Each detector's photocurrent at its last successful conversion (empty
  // before the first read; 0 for a detector no scan has converted yet).
  const std::vector<double>& last_photocurrent_ua() const { return last_photocurrent_ua_; }
  // Validates phases and inputs together, writes both, then reads.
  absl::StatusOr<DetectorReading> Query(const QueryConfig& config);
  // Several configurations in turn, each written and read as Query would.
  // Every configuration is validated (against the chip's limits, in the
  // order they will be written) before any is written: a bad one refuses
  // them all (the error names it: "configuration i: ...") and changes
  // nothing. Appends one reading per configuration to `readings`, and
  // counts one query per configuration written.
  absl::Status QuerySequence(std::span<const QueryConfig> configs,
                             std::vector<DetectorReading>& readings);
  // Many inputs at the present phases: sends each row of amplitude_rows
  // (rows x input_count(), row-major) in turn and reads the detectors
  // `outputs` (distinct, in this order; empty: every detector) after each;
  // returns rows x outputs optical powers in mW. Where the instruments sweep,
  // only those detectors are converted (the ADC's scan list). The inputs keep
  // the last row. Every row and output is validated before any row is sent: a
  // bad one refuses the batch (INVALID_ARGUMENT or FAILED_PRECONDITION naming
  // it) and changes nothing. Runs as hardware-timed sweeps of up to
  // kMaxSweepRows where the instruments have them (drivers::SweepDriver, the
  // simulator), else row by row. Counts one query per row sent (a refused
  // batch counts none). If a sweep fails, inputs() says the row the DAC was
  // last asked to hold; a lost link drives the chip safe as for every call.
  absl::StatusOr<std::vector<double>> QueryBatch(std::span<const double> amplitude_rows,
                                                 std::uint32_t averages,
                                                 std::span<const int> outputs = {});
  // The TEC's reading; FAILED_PRECONDITION when the backend has no TEC, the
  // TEC's error (prefixed "TEC: ") when it does not answer. Logs a warning
  // when the temperature first drifts beyond 3 stability_k of the setpoint.
  absl::StatusOr<TemperatureReading> ReadTemperature();
  // INVALID_ARGUMENT outside the TEC's setpoint range (nothing is sent).
  absl::Status SetTemperatureSetpoint(double celsius);
  // All heaters and modulators to 0 V.
  absl::Status DriveToSafeState();
  // A new chip-wide heater budget in (0, chip max_total_heater_power_mw]. While
  // a session or calibration holds the chip it may be lowered, not raised.
  absl::Status SetPowerBudget(double max_total_heater_power_mw);
  // Calibration access: every heater's power (nominal mW, P = V^2/R_nominal),
  // through PowerGuard, the slew limit and settling like any write.
  absl::Status SetHeaterPowers(std::span<const double> powers_mw);
  // Replaces the phase <-> power map (after calibration); the present
  // phases are re-derived from the heater voltages.
  void InstallPhaseModel(HeaterPhaseModel model);
  const HeaterPhaseModel& phase_model() const { return heaters_.phase_model(); }
  // The write lease (write_lease.h): while a task holds it, writes from
  // clients (phases, inputs, calibration) are refused; reads still work.
  // Taking it: OK when it is free or `holder` has it already, else
  // FAILED_PRECONDITION naming the task that has it.
  absl::Status TakeWriteLease(const WriteLeaseHolder& holder);
  // Frees the lease if `holder` has it; else changes nothing.
  void ReleaseWriteLease(const WriteLeaseHolder& holder);
  std::optional<WriteLeaseHolder> write_lease() const {
    const HardwareHold hold = Hold();
    return write_lease_;
  }
  bool HoldsWriteLease(const WriteLeaseHolder& holder) const {
    const HardwareHold hold = Hold();
    return write_lease_ == holder;
  }
  // OK, or FAILED_PRECONDITION naming the lease holder.
  absl::Status CheckClientMayWrite() const;
  // Serial backends: the instruments' links (null on the simulator).
  // Thread-safe.
  const std::shared_ptr<drivers::LinkHealth>& links() const { return drivers_.links; }
  // The instruments' clock (virtual on the simulator).
  std::chrono::nanoseconds ChipTime() const {
    const HardwareHold hold = Hold();
    return drivers_.clock->Now();
  }

 private:
  ChipController(const photonic::v1::ChipDescription& chip, drivers::DriverSet drivers,
                 std::chrono::nanoseconds settle_time);

  // The modulator volts for valid amplitudes.
  absl::StatusOr<std::vector<double>> PlanInputs(std::span<const double> amplitudes) const;
  // The same into volts_v (input_count() entries), without allocating.
  absl::Status PlanInputsInto(std::span<const double> amplitudes, std::span<double> volts_v) const;
  // Currents (A) of the detectors `scan`, in order, to optical power (mW).
  void CurrentsToPowerMw(std::span<const double> currents_a, std::span<const int> scan,
                         std::span<double> power_mw) const;
  absl::StatusOr<int> ValidateAverages(std::uint32_t averages) const;
  // A request's full phase vector, planned and guarded (HeaterBank).
  absl::StatusOr<HeaterPlan> PlanHeaters(std::span<const double> phases_rad,
                                         std::span<const std::uint32_t> indices) const;
  absl::Status WriteInputs(std::span<const double> amplitudes);
  // Writes volts already planned for `amplitudes` (PlanInputs).
  absl::Status WriteInputVolts(std::span<const double> volts_v, std::span<const double> amplitudes);
  void ModulatorVolts(std::span<const double> amplitudes, std::span<double> volts_v) const;
  // urgent: ahead of background holders (the hardware thread's tasks).
  HardwareHold AcquireHardware(bool urgent) const;
  void ReleaseHardware() const;
  void RunHardwareThread();
  // Before every hardware operation. With every instrument link up: OK
  // (after a link came back, the chip is first driven to its safe state:
  // what the instruments held is unknown). A lost link: one reconnection
  // attempt, the chip driven safe where still possible, then UNAVAILABLE
  // naming the lost links.
  absl::Status CheckLinks();
  // Every kLinkWatchPeriod while links are watched: CheckLinks(), so lost
  // instruments reconnect (with their backoff) without waiting for a client.
  void WatchLinks();

  const photonic::v1::ChipDescription chip_;
  const photonsim::ChipLayout layout_;
  // Per output, the dark current in its reading: 0 for balanced pairs
  // (microring banks, coherent SVD cores), whose two dark currents cancel.
  std::vector<double> output_dark_a_;
  std::vector<int> all_outputs_;  // 0 .. output_count - 1: a scan of every detector
  drivers::DriverSet drivers_;
  const std::chrono::nanoseconds settle_time_;
  std::optional<WriteLeaseHolder> write_lease_;  // hardware thread only
  const int phase_count_;
  const int input_count_;
  const int output_count_;

  // Owned by the hardware thread.
  HeaterBank heaters_;  // phases, volts, energy, phase model, PowerGuard
  std::vector<double> amplitudes_;
  std::vector<double> last_photocurrent_ua_;

  std::atomic<HardwareTaskObserver*> task_observer_{nullptr};
  std::atomic<std::uint64_t> query_count_{0};

  // Link supervision, hardware thread only.
  std::uint64_t seen_restorations_ = 0;
  bool safed_since_loss_ = false;
  bool stopping_ = false;
  bool temperature_drifting_ = false;  // hardware thread only

  mutable phc::base::PriorityLock hardware_;
  mutable std::atomic<std::thread::id> hardware_holder_{};
  mutable boost::asio::io_context io_;  // mutable: get_executor() is non-const
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer link_timer_;
  std::thread thread_;
  boost::asio::thread_pool workers_{2};  // sized for the 2-core lab PC
};

}  // namespace phc::daemon
