#include "daemon/services/calibration_service.h"

#include <atomic>
#include <cmath>
#include <functional>
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

// Streams progress of one calibration; frees itself in OnDone.
class CalibrateReactor final : public grpc::ServerWriteReactor<ProgressMessage> {
 public:
  // check_lease: whether the caller's lease still allows writing (on the
  // hardware thread, when the calibration starts).
  CalibrateReactor(ChipController& controller, CalibrationState& state, CalibrationOptions options,
                   std::function<absl::Status()> check_lease)
      : controller_(controller),
        state_(state),
        options_(options),
        check_lease_(std::move(check_lease)) {
    controller_.Post([this] { Run(); });
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    grpc::Status final_status;
    {
      phc::base::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        cancelled_ = true;  // the client is gone: stop at the next check
        has_pending_ = false;
      }
      if (has_pending_) {
        StartNextLocked();
      } else if (done_) {
        finish = ClaimFinishLocked();
        final_status = status_;
      }
    }
    // Finish may run OnDone (which deletes this) at once: it is the last use.
    if (finish) Finish(final_status);
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  // Hardware thread.
  void Run() {
    absl::StatusOr<photonic::v1::PhaseCalibration> result =
        absl::UnknownError("calibration did not run");
    absl::Status lease = check_lease_();
    if (lease.ok()) lease = controller_.CheckClientMayWrite();
    if (!lease.ok()) {
      result = lease;
    } else {
      result = RunCalibration(
          controller_, options_,
          [this](const CalibrationStatus& status) {
            ProgressMessage progress;
            progress.set_fraction(status.fraction);
            progress.set_stage(status.stage);
            progress.set_phase(status.phase);
            progress.set_eta_seconds(status.eta_seconds);
            Publish(std::move(progress));
          },
          &cancelled_);
    }
    if (result.ok()) {
      state_.current = *result;
      if (absl::Status s = state_.store.Save(*result); !s.ok()) {
        spdlog::error("calibration not saved: {}", s.ToString());
      } else if (state_.store.persistent()) {
        spdlog::info("calibration saved to {}", state_.store.path().string());
      }
      ProgressMessage last;
      last.set_fraction(1.0);
      last.set_stage("done");
      last.set_phase(-1);
      *last.mutable_result() = *result;
      Publish(std::move(last));
    } else {
      spdlog::warn("calibration ended: {}", result.status().ToString());
    }
    bool finish = false;
    const grpc::Status final_status = ToGrpcStatus(result.status());
    {
      phc::base::MutexLock lock(&mu_);
      status_ = final_status;
      done_ = true;
      if (!writing_ && !has_pending_) finish = ClaimFinishLocked();
    }
    if (finish) Finish(final_status);  // last use of this
  }

  void Publish(ProgressMessage progress) ABSL_LOCKS_EXCLUDED(mu_) {
    phc::base::MutexLock lock(&mu_);
    if (cancelled_) return;
    pending_ = std::move(progress);
    has_pending_ = true;
    if (!writing_) StartNextLocked();
  }

  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(pending_);
    has_pending_ = false;
    writing_ = true;
    StartWrite(&current_);
  }

  // True exactly once: the caller then calls Finish after releasing mu_.
  bool ClaimFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  ChipController& controller_;
  CalibrationState& state_;
  const CalibrationOptions options_;
  const std::function<absl::Status()> check_lease_;
  std::atomic<bool> cancelled_{false};
  phc::base::Mutex mu_;
  ProgressMessage pending_ ABSL_GUARDED_BY(mu_);
  ProgressMessage current_ ABSL_GUARDED_BY(mu_);  // being written to the client
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
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
  return new CalibrateReactor(
      controller_, state_, *options,
      [this, lease = CallGuard::LeaseOf(*context)] { return access_.CheckLease(lease); });
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
