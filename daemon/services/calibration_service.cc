#include "daemon/services/calibration_service.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "daemon/calibration/calibrator.h"
#include "daemon/services/service_refusal.h"
#include "daemon/services/write_admission.h"
#include "daemon/status_convert.h"
#include "phc/base/mutex.h"
#include "photonsim/haar_unitary.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

using ProgressMessage = photonic::v1::CalibrationProgress;

}  // namespace

// One calibration. It runs on the controller's worker pool, holding the
// chip's write lease, and outlives the call that started it: a client that
// goes away only stops watching. Its progress goes to the call while the
// call is there; only the latest update is kept while a write is in flight.
class CalibrationJob : public std::enable_shared_from_this<CalibrationJob> {
 public:
  using Watcher = grpc::ServerWriteReactor<ProgressMessage>;

  CalibrationJob(ChipController& controller, CalibrationState& state, CalibrationOptions options)
      : controller_(controller), state_(state), options_(options) {}

  // A call that watches from now on; the call that watched before ends
  // (ABORTED: its client may be gone already, the server cannot know yet).
  // REQUIRES: holding the hardware, and the job running (state.running) or
  // just created.
  void Watch(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_) {
    Watcher* displaced = nullptr;
    {
      phc::base::MutexLock lock(&mu_);
      if (watcher_ != nullptr && !finished_) {
        // With a write in flight it ends when that write completes.
        if (writing_) {
          leaving_.push_back(watcher_);
        } else {
          displaced = watcher_;
        }
      }
      watcher_ = watcher;
      writing_ = false;
      has_pending_ = false;
      finished_ = false;
      client_gone_ = false;
    }
    if (displaced != nullptr) displaced->Finish(DisplacedStatus());
  }

  // Hardware thread, when the call is admitted and the calibration holds
  // the write lease: starts the run on the worker pool.
  void Start() {
    state_.running = shared_from_this();
    controller_.PostWork([self = shared_from_this()] { self->Run(); });
  }

  void Cancel() { cancelled_ = true; }
  double fraction() const { return fraction_.load(); }

  // Waits until the run has ended (the lease is free, the chip safe).
  void WaitDone() {
    std::unique_lock lock(done_mu_);
    done_cv_.wait(lock, [this] { return run_ended_; });
  }

  // The watching call's reactions; ignored from a call no longer watching.
  void WriteDone(Watcher* watcher, bool ok) ABSL_LOCKS_EXCLUDED(mu_) {
    Watcher* finish = nullptr;
    grpc::Status final_status;
    {
      phc::base::MutexLock lock(&mu_);
      if (auto it = std::find(leaving_.begin(), leaving_.end(), watcher); it != leaving_.end()) {
        leaving_.erase(it);
        finish = watcher;
        final_status = DisplacedStatus();
      } else if (watcher != watcher_) {
        return;
      }
    }
    if (finish != nullptr) {
      finish->Finish(final_status);
      return;
    }
    {
      phc::base::MutexLock lock(&mu_);
      if (watcher != watcher_) return;
      writing_ = false;
      if (!ok) client_gone_ = true;
      if (client_gone_) {
        has_pending_ = false;
        finish = ClaimFinishLocked();
        final_status = ClientGoneStatus();
      } else if (has_pending_) {
        StartNextLocked();
      } else if (done_) {
        finish = ClaimFinishLocked();
        final_status = status_;
      }
    }
    // Finish may run OnDone (which drops the watcher) at once: last use.
    if (finish != nullptr) finish->Finish(final_status);
  }

  void ClientCancelled(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_) {
    Watcher* finish = nullptr;
    {
      phc::base::MutexLock lock(&mu_);
      if (watcher != watcher_ || finished_) return;
      if (!client_gone_ && !done_) {
        spdlog::info(
            "calibration client went away; the calibration goes on (Calibrate watches it "
            "again, CancelCalibration stops it)");
      }
      client_gone_ = true;
      has_pending_ = false;
      if (!writing_) finish = ClaimFinishLocked();
    }
    if (finish != nullptr) finish->Finish(ClientGoneStatus());
  }

  void WatcherDone(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_) {
    phc::base::MutexLock lock(&mu_);
    if (watcher == watcher_) watcher_ = nullptr;
  }

  // Ends the watching call at once with `status`.
  void Refuse(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    Watcher* finish = nullptr;
    {
      phc::base::MutexLock lock(&mu_);
      finish = ClaimFinishLocked();
    }
    if (finish != nullptr) finish->Finish(ToGrpcStatus(status));
  }

 private:
  static grpc::Status DisplacedStatus() {
    return grpc::Status(grpc::StatusCode::ABORTED,
                        "another call watches the calibration now; it goes on in the daemon");
  }
  static grpc::Status ClientGoneStatus() {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "the client went away; the calibration goes on in the daemon");
  }

  // Worker pool. Every hardware operation of the run holds the hardware on
  // its own, so client reads run between them.
  void Run() {
    spdlog::info("calibration started ({} configurations, {} sweep points, {} averages)",
                 options_.configurations, options_.sweep_points, options_.averages);
    absl::StatusOr<photonic::v1::PhaseCalibration> result = RunCalibration(
        controller_, options_,
        [this](const CalibrationStatus& status) {
          fraction_ = status.fraction;
          ProgressMessage progress;
          progress.set_fraction(status.fraction);
          progress.set_stage(status.stage);
          progress.set_phase(status.phase);
          progress.set_eta_seconds(status.eta_seconds);
          Publish(std::move(progress));
        },
        &cancelled_);
    if (result.ok()) {
      // Written before the lease is freed (no other calibration can save
      // meanwhile), without holding the hardware: the file write is synced.
      if (absl::Status s = state_.store.Save(*result); !s.ok()) {
        spdlog::error("calibration not saved: {}", s.ToString());
      } else if (state_.store.persistent()) {
        spdlog::info("calibration saved to {}", state_.store.path().string());
      }
    } else {
      spdlog::warn("calibration ended: {}", result.status().ToString());
    }
    {
      const ChipController::HardwareHold hold = controller_.Hold();
      if (result.ok()) state_.current = *result;
      controller_.ReleaseWriteLease(WriteLeaseHolder::Calibration());
      if (state_.running.get() == this) state_.running.reset();
    }
    if (result.ok()) {
      ProgressMessage last;
      last.set_fraction(1.0);
      last.set_stage("done");
      last.set_phase(-1);
      *last.mutable_result() = *result;
      Publish(std::move(last));
    }
    Watcher* finish = nullptr;
    const grpc::Status final_status = ToGrpcStatus(result.status());
    {
      phc::base::MutexLock lock(&mu_);
      status_ = final_status;
      done_ = true;
      if (!writing_ && !has_pending_) finish = ClaimFinishLocked();
    }
    if (finish != nullptr) finish->Finish(final_status);
    {
      std::lock_guard lock(done_mu_);
      run_ended_ = true;
    }
    done_cv_.notify_all();
  }

  void Publish(ProgressMessage progress) ABSL_LOCKS_EXCLUDED(mu_) {
    phc::base::MutexLock lock(&mu_);
    if (watcher_ == nullptr || client_gone_ || finished_) return;
    pending_ = std::move(progress);
    has_pending_ = true;
    if (!writing_) StartNextLocked();
  }

  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(pending_);
    has_pending_ = false;
    writing_ = true;
    watcher_->StartWrite(&current_);
  }

  // The watcher, once per watcher (else null): the caller then calls
  // Finish on it after releasing mu_.
  Watcher* ClaimFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || watcher_ == nullptr) return nullptr;
    finished_ = true;
    return watcher_;
  }

  ChipController& controller_;
  CalibrationState& state_;
  const CalibrationOptions options_;
  std::atomic<bool> cancelled_{false};
  std::atomic<double> fraction_{0.0};
  phc::base::Mutex mu_;
  Watcher* watcher_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<Watcher*> leaving_ ABSL_GUARDED_BY(mu_);
  ProgressMessage pending_ ABSL_GUARDED_BY(mu_);
  ProgressMessage current_ ABSL_GUARDED_BY(mu_);  // being written to the client
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool run_ended_ = false;  // guarded by done_mu_
};

namespace {

// A Calibrate call: it starts a calibration and watches it, or watches the
// one already running. Frees itself in OnDone.
class CalibrateReactor final : public grpc::ServerWriteReactor<ProgressMessage> {
 public:
  explicit CalibrateReactor(std::shared_ptr<CalibrationJob> job) : job_(std::move(job)) {}

  // Hardware thread, once: watch the new job, or `running` instead. A
  // client that went away before (OnCancel found no watcher yet) is gone
  // for the job at once.
  void Watch() ABSL_LOCKS_EXCLUDED(mu_) {
    const std::shared_ptr<CalibrationJob> watched = job();
    watched->Watch(this);
    bool cancelled = false;
    {
      phc::base::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    if (cancelled) watched->ClientCancelled(this);
  }
  void Rewatch(std::shared_ptr<CalibrationJob> running) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      phc::base::MutexLock lock(&mu_);
      job_ = std::move(running);
    }
    Watch();
  }
  // Ends the call at once (not admitted).
  void Refuse(const absl::Status& status) {
    const std::shared_ptr<CalibrationJob> refused = job();
    refused->Watch(this);
    refused->Refuse(status);  // may run OnDone: nothing touches this afterwards
  }
  std::shared_ptr<CalibrationJob> job() ABSL_LOCKS_EXCLUDED(mu_) {
    phc::base::MutexLock lock(&mu_);
    return job_;
  }

  void OnWriteDone(bool ok) override { job()->WriteDone(this, ok); }
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      phc::base::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    job()->ClientCancelled(this);
  }
  void OnDone() override {
    job()->WatcherDone(this);
    delete this;
  }

 private:
  phc::base::Mutex mu_;
  std::shared_ptr<CalibrationJob> job_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

void LoadStoredCalibration(ChipController& controller, CalibrationState& state) {
  absl::StatusOr<photonic::v1::PhaseCalibration> stored = state.store.Load();
  if (!stored.ok()) {
    if (!absl::IsNotFound(stored.status())) {
      spdlog::error("stored calibration unusable, running uncalibrated: {}",
                    stored.status().ToString());
    }
    return;
  }
  absl::StatusOr<HeaterPhaseModel> model =
      HeaterPhaseModel::FromCalibration(controller.chip(), *stored);
  if (!model.ok()) {
    spdlog::error("stored calibration {} does not fit the chip, running uncalibrated: {}",
                  state.store.path().string(), model.status().ToString());
    return;
  }
  controller.InstallPhaseModel(*std::move(model));
  state.current = *std::move(stored);
  spdlog::info("loaded calibration of {} from {}", state.current->created_at(),
               state.store.path().string());
}

grpc::ServerWriteReactor<ProgressMessage>* CalibrationServiceImpl::Calibrate(
    grpc::CallbackServerContext* context, const photonic::v1::CalibrateRequest* request) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return new WriteRefusal<ProgressMessage>(denied);
  }
  absl::StatusOr<CalibrationOptions> options = CalibrationOptionsFrom(*request);
  if (!options.ok()) {
    // A reactor that only reports the error.
    class Refusal final : public grpc::ServerWriteReactor<ProgressMessage> {
     public:
      explicit Refusal(grpc::Status status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refusal(ToGrpcStatus(options.status()));
  }
  auto job = std::make_shared<CalibrationJob>(controller_, state_, *options);
  auto* reactor = new CalibrateReactor(job);
  controller_.Post([this, reactor, job, lease = CallGuard::LeaseOf(*context)] {
    // A calibration already running (whose client went away): watch it.
    if (const std::shared_ptr<CalibrationJob> running = state_.running) {
      if (absl::Status s = access_.CheckLease(lease); !s.ok()) {
        reactor->Refuse(s);
        return;
      }
      spdlog::info("a call watches the running calibration (its own options are unused)");
      reactor->Rewatch(running);
      return;
    }
    if (absl::Status s = MayClientWriteNow(access_, controller_, lease); !s.ok()) {
      reactor->Refuse(s);
      return;
    }
    if (absl::Status s = controller_.TakeWriteLease(WriteLeaseHolder::Calibration()); !s.ok()) {
      reactor->Refuse(s);
      return;
    }
    reactor->Watch();  // a client already gone may end the call here: use `job`
    job->Start();
  });
  return reactor;
}

grpc::ServerUnaryReactor* CalibrationServiceImpl::CancelCalibration(
    grpc::CallbackServerContext* context, const photonic::v1::CancelCalibrationRequest*,
    photonic::v1::CancelCalibrationReply* response) {
  if (grpc::Status denied = access_.Operate(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response] {
    std::shared_ptr<CalibrationJob> job = state_.running;
    if (!job) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no calibration is running"));
      return;
    }
    job->Cancel();
    response->set_fraction_done(job->fraction());
    spdlog::info("calibration cancelled at {:.0f} %", 100.0 * job->fraction());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

void CancelRunningCalibration(ChipController& controller, CalibrationState& state) {
  std::shared_ptr<CalibrationJob> job = controller.RunSync([&state] { return state.running; });
  if (!job) return;
  job->Cancel();
  job->WaitDone();
}

grpc::ServerUnaryReactor* CalibrationServiceImpl::GetCalibration(
    grpc::CallbackServerContext* context, const photonic::v1::GetCalibrationRequest*,
    photonic::v1::PhaseCalibration* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response] {
    if (!state_.current) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "the chip has not been calibrated (photonctl calibrate)"));
      return;
    }
    *response = *state_.current;
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* CalibrationServiceImpl::ProgramUnitary(
    grpc::CallbackServerContext* context, const photonic::v1::ProgramUnitaryRequest* request,
    photonic::v1::ProgramUnitaryResponse* response) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, request, response, lease = CallGuard::LeaseOf(*context)] {
    if (absl::Status s = MayClientWriteNow(access_, controller_, lease); !s.ok()) {
      reactor->Finish(ToGrpcStatus(s));
      return;
    }
    const auto& circuits = controller_.layout().circuits;
    if (request->circuit() >= circuits.size()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   absl::StrCat("circuit ", request->circuit(), " does not exist (",
                                                circuits.size(), " circuits)")));
      return;
    }
    const int n = circuits[request->circuit()].size;
    photonsim::MatrixXc target;
    if (request->real_size() == 0 && request->imag_size() == 0) {
      target = photonsim::HaarUnitary(n, request->seed());
    } else {
      if (request->real_size() != n * n || request->imag_size() != n * n) {
        reactor->Finish(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("real and imag must hold ", n * n, " entries (row-major ", n, "x", n,
                         "), got ", request->real_size(), " and ", request->imag_size())));
        return;
      }
      target.resize(n, n);
      for (int i = 0; i < n * n; ++i) {
        target(i / n, i % n) = photonsim::Complex(request->real(i), request->imag(i));
      }
      if (!target.allFinite()) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "target has non-finite entries"));
        return;
      }
    }
    const int averages = request->averages() == 0 ? 16 : static_cast<int>(request->averages());
    if (averages > kMaxAverages) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   absl::StrCat("averages must be at most ", kMaxAverages)));
      return;
    }
    absl::StatusOr<UnitaryMeasurement> measurement = ProgramUnitaryAndMeasure(
        controller_, static_cast<int>(request->circuit()), target, averages);
    if (!measurement.ok()) {
      reactor->Finish(ToGrpcStatus(measurement.status()));
      return;
    }
    response->set_fidelity(measurement->fidelity);
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) {
        response->add_measured_power_fraction(measurement->measured(r, c));
        response->add_target_power_fraction(measurement->target(r, c));
      }
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace phc::daemon
