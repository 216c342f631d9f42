#include "daemon/services/model_service.h"

#include <atomic>
#include <deque>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "daemon/models/deployment.h"
#include "daemon/models/in_silico_training.h"
#include "daemon/models/model_evaluation.h"
#include "daemon/models/model_programming.h"
#include "daemon/services/service_refusal.h"
#include "daemon/services/write_admission.h"
#include "daemon/status_convert.h"
#include "phc/base/mutex.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

using photonic::v1::EvaluateProgress;
using photonic::v1::ProgramInSituProgress;
using photonic::v1::StoredModel;
using photonic::v1::TrainInSilicoProgress;

constexpr int kEvaluationBatch = 32;  // samples per hardware-thread step
constexpr std::uint32_t kMaxTestLimit = 10000;

// A server stream fed by a producer on another thread (a model worker, the
// hardware thread). Messages queue in order, or with latest_only the newest
// replaces one not yet written. The producer calls End exactly once, last;
// the call finishes once everything queued is written (at once if the
// client is gone). OnCancel only raises cancel_flag(): the producer sees it
// and calls End, so the reactor is never freed under the producer.
template <typename Message>
class ProgressStream final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit ProgressStream(bool latest_only)
      : latest_only_(latest_only), cancelled_(std::make_shared<std::atomic<bool>>(false)) {}

  const std::shared_ptr<std::atomic<bool>>& cancel_flag() const { return cancelled_; }
  bool cancelled() const { return cancelled_->load(); }

  void Publish(Message message) ABSL_LOCKS_EXCLUDED(mu_) {
    phc::base::MutexLock lock(&mu_);
    if (gone_ || ended_) return;
    if (latest_only_ && !queue_.empty()) {
      queue_.back() = std::move(message);
    } else {
      queue_.push_back(std::move(message));
    }
    if (!writing_) StartNextLocked();
  }

  // The producer's last call. May free this.
  void End(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish = false;
    {
      phc::base::MutexLock lock(&mu_);
      ended_ = true;
      status_ = status;
      if (!writing_) finish = ClaimFinishLocked();  // nothing queued when not writing
    }
    if (finish) this->Finish(status);  // last use of this
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    grpc::Status status;
    {
      phc::base::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {  // the client is gone
        gone_ = true;
        cancelled_->store(true);
        queue_.clear();
      }
      if (!queue_.empty()) {
        StartNextLocked();
      } else if (ended_) {
        finish = ClaimFinishLocked();
        status = status_;
      }
    }
    if (finish) this->Finish(status);  // last use of this
  }

  void OnCancel() override { cancelled_->store(true); }
  void OnDone() override { delete this; }

 private:
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    this->StartWrite(&current_);
  }

  // True exactly once: the caller then calls Finish after releasing mu_.
  bool ClaimFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  const bool latest_only_;
  const std::shared_ptr<std::atomic<bool>> cancelled_;
  phc::base::Mutex mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  Message current_ ABSL_GUARDED_BY(mu_);  // being written to the client
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

using TrainStream = ProgressStream<TrainInSilicoProgress>;
using EvaluateStream = ProgressStream<EvaluateProgress>;
using ProgramStream = ProgressStream<ProgramInSituProgress>;

TrainInSilicoProgress ProgressOf(const trainers::onn::EpochReport& report) {
  TrainInSilicoProgress progress;
  progress.set_epoch(static_cast<std::uint32_t>(report.epoch));
  progress.set_epochs(static_cast<std::uint32_t>(report.epochs));
  progress.set_train_loss(report.train_loss);
  progress.set_train_accuracy(report.train_accuracy);
  progress.set_test_accuracy(report.test_accuracy);
  progress.set_seconds(report.seconds);
  return progress;
}

// Runs a stepped run on the hardware thread (ModelEvaluationRun,
// ModelProgrammingRun: Begin, Step until done, End), one post per step, and
// ends its stream. Lives in the posted work until it ends the stream.
template <typename Run, typename Progress>
class SteppedRunDriver : public std::enable_shared_from_this<SteppedRunDriver<Run, Progress>> {
 public:
  SteppedRunDriver(ChipController& controller, const CallGuard& access, std::unique_ptr<Run> run,
                   ProgressStream<Progress>* stream, std::string lease, std::string what)
      : controller_(controller),
        access_(access),
        run_(std::move(run)),
        stream_(stream),
        lease_(std::move(lease)),
        what_(std::move(what)) {}

  void Start() {
    controller_.Post([self = this->shared_from_this()] { self->Begin(); });
  }

 private:
  // Hardware thread.
  void Begin() {
    if (stream_->cancelled()) return Stop(grpc::Status::CANCELLED);
    if (absl::Status s = access_.CheckLease(lease_); !s.ok()) return Stop(ToGrpcStatus(s));
    if (absl::Status s = run_->Begin(); !s.ok()) {
      spdlog::warn("{} refused: {}", what_, s.ToString());
      return Stop(ToGrpcStatus(s));
    }
    Step();
  }

  // Hardware thread: one step, then the next is posted behind whatever
  // other clients posted meanwhile.
  void Step() {
    if (stream_->cancelled()) {
      return Stop(grpc::Status(grpc::StatusCode::CANCELLED, absl::StrCat(what_, " cancelled")));
    }
    // A client lease granted since the call started takes the chip back.
    if (absl::Status s = access_.CheckLease(lease_); !s.ok()) return Stop(ToGrpcStatus(s));
    absl::StatusOr<Progress> progress = run_->Step();
    if (!progress.ok()) {
      spdlog::warn("{} failed: {}", what_, progress.status().ToString());
      return Stop(ToGrpcStatus(progress.status()));
    }
    stream_->Publish(*std::move(progress));
    if (run_->done()) return Stop(grpc::Status::OK);
    controller_.Post([self = this->shared_from_this()] { self->Step(); });
  }

  void Stop(const grpc::Status& status) {
    run_->End();
    ProgressStream<Progress>* stream = std::exchange(stream_, nullptr);
    stream->End(status);
  }

  ChipController& controller_;
  const CallGuard& access_;
  std::unique_ptr<Run> run_;
  ProgressStream<Progress>* stream_;  // until Stop
  const std::string lease_;
  const std::string what_;
};

using EvaluationDriver = SteppedRunDriver<ModelEvaluationRun, EvaluateProgress>;
using ProgrammingDriver = SteppedRunDriver<ModelProgrammingRun, ProgramInSituProgress>;

// FAILED_PRECONDITION unless the stored model is marked deployed (checked
// again on the hardware thread; this spares the preparation).
grpc::Status RequireDeployed(const StoredModel& stored) {
  if (stored.info().deployed()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat("model ", stored.info().model_id(),
                                   " is not deployed on the chip; photonctl model deploy ",
                                   stored.info().model_id(), " first"));
}

}  // namespace

grpc::ServerWriteReactor<TrainInSilicoProgress>* ModelServiceImpl::TrainInSilico(
    grpc::CallbackServerContext* context, const photonic::v1::TrainInSilicoRequest* request) {
  // Not a chip write: the operator role, no lease.
  if (grpc::Status denied = access_.Operate(*context); !denied.ok()) {
    return new WriteRefusal<TrainInSilicoProgress>(denied);
  }
  absl::StatusOr<InSilicoJob> job = ValidateTrainInSilico(*request, store_, fashion_mnist_dir_);
  if (!job.ok()) {
    spdlog::warn("TrainInSilico refused: {}", job.status().ToString());
    return new WriteRefusal<TrainInSilicoProgress>(ToGrpcStatus(job.status()));
  }
  auto* stream = new TrainStream(/*latest_only=*/false);
  std::shared_ptr<std::atomic<bool>> cancel = stream->cancel_flag();
  absl::Status started = workers_.StartTraining(cancel, [this, stream, cancel,
                                                         job = *std::move(job)] {
    absl::StatusOr<StoredModel> trained = RunInSilicoTraining(
        job, fashion_mnist_dir_, controller_.chip().name(),
        [stream](const trainers::onn::EpochReport& report) { stream->Publish(ProgressOf(report)); },
        cancel.get());
    if (trained.ok() && cancel->load()) {
      trained = absl::CancelledError(
          absl::StrCat("training of model ", job.model_id, " cancelled; nothing stored"));
    }
    absl::StatusOr<photonic::v1::ModelInfo> info =
        trained.ok() ? store_.Add(*std::move(trained))
                     : absl::StatusOr<photonic::v1::ModelInfo>(trained.status());
    if (!info.ok()) {
      if (!absl::IsCancelled(info.status())) {
        spdlog::warn("model {}: in silico training failed: {}", job.model_id,
                     info.status().ToString());
      }
      workers_.TrainingSettled();
      stream->End(ToGrpcStatus(info.status()));
      return;
    }
    spdlog::info("model {} stored{}: in silico test accuracy {:.4f}", job.model_id,
                 info->persistent() ? "" : " in memory only (no state_dir)",
                 info->in_silico_test_accuracy());
    TrainInSilicoProgress last;
    last.set_done(true);
    last.set_epochs(static_cast<std::uint32_t>(job.options.epochs));
    last.set_epoch(static_cast<std::uint32_t>(job.options.epochs));
    last.set_test_accuracy(info->in_silico_test_accuracy());
    *last.mutable_model() = *std::move(info);
    stream->Publish(std::move(last));
    workers_.TrainingSettled();
    stream->End(grpc::Status::OK);
  });
  if (!started.ok()) stream->End(ToGrpcStatus(started));
  return stream;
}

grpc::ServerUnaryReactor* ModelServiceImpl::Deploy(grpc::CallbackServerContext* context,
                                                   const photonic::v1::DeployRequest* request,
                                                   photonic::v1::DeployReply* response) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) return Refuse(context, denied);
  absl::StatusOr<StoredModel> stored = store_.Get(request->model_id());
  if (!stored.ok()) return Refuse(context, ToGrpcStatus(stored.status()));
  // Placement and the model's phases off the hardware thread; a model the
  // chip cannot run is refused before anything is posted.
  absl::StatusOr<DeploymentPlan> plan =
      PlanDeployment(*stored, controller_.chip(), controller_.layout());
  if (!plan.ok()) {
    spdlog::warn("Deploy {} refused: {}", request->model_id(), plan.status().ToString());
    return Refuse(context, ToGrpcStatus(plan.status()));
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, context, reactor, response,
                    plan = std::make_shared<const DeploymentPlan>(*std::move(plan)),
                    lease = CallGuard::LeaseOf(*context)] {
    if (!AdmitUnaryWrite(reactor, *context, access_, controller_, lease)) return;
    absl::StatusOr<DeployOutcome> outcome = DeployModel(controller_, store_, *plan);
    if (!outcome.ok()) {
      spdlog::warn("Deploy {} refused: {}", plan->model_id, outcome.status().ToString());
      reactor->Finish(ToGrpcStatus(outcome.status()));
      return;
    }
    *response->mutable_model() = std::move(outcome->info);
    response->set_total_heater_power_mw(outcome->state.total_heater_power_mw);
    response->set_phases_written(static_cast<std::uint32_t>(plan->model_phase_count));
    for (const int circuit : plan->placement.circuits) {
      response->add_circuits(static_cast<std::uint32_t>(circuit));
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<EvaluateProgress>* ModelServiceImpl::Evaluate(
    grpc::CallbackServerContext* context, const photonic::v1::EvaluateRequest* request) {
  // It writes the inputs: the operator role and the lease, like any write.
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return new WriteRefusal<EvaluateProgress>(denied);
  }
  if (request->test_limit() > kMaxTestLimit) {
    return new WriteRefusal<EvaluateProgress>(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("test_limit = ", request->test_limit(), " must be in [0, 10000] (0: all)")));
  }
  if (request->averages() > static_cast<std::uint32_t>(kMaxAverages)) {
    return new WriteRefusal<EvaluateProgress>(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("averages = ", request->averages(), " exceeds the maximum of ",
                                  kMaxAverages)));
  }
  absl::StatusOr<StoredModel> stored = store_.Get(request->model_id());
  if (!stored.ok()) return new WriteRefusal<EvaluateProgress>(ToGrpcStatus(stored.status()));
  if (grpc::Status s = RequireDeployed(*stored); !s.ok()) {
    return new WriteRefusal<EvaluateProgress>(s);
  }
  auto* stream = new EvaluateStream(/*latest_only=*/true);
  const int test_limit = static_cast<int>(request->test_limit());
  const std::uint32_t averages = request->averages();
  absl::Status started = workers_.Start([this, stream, stored = *std::move(stored), test_limit,
                                         averages, lease = CallGuard::LeaseOf(*context)] {
    absl::StatusOr<EvaluationSetup> setup =
        PrepareEvaluation(stored, controller_.chip(), fashion_mnist_dir_, test_limit);
    if (!setup.ok()) {
      stream->End(ToGrpcStatus(setup.status()));
      return;
    }
    auto run = std::make_unique<ModelEvaluationRun>(controller_, store_, *std::move(setup),
                                                    averages, kEvaluationBatch);
    const std::string what = absl::StrCat("evaluation of model ", run->model_id());
    std::make_shared<EvaluationDriver>(controller_, access_, std::move(run), stream, lease, what)
        ->Start();
  });
  if (!started.ok()) stream->End(ToGrpcStatus(started));
  return stream;
}

grpc::ServerWriteReactor<ProgramInSituProgress>* ModelServiceImpl::ProgramInSitu(
    grpc::CallbackServerContext* context, const photonic::v1::ProgramInSituRequest* request) {
  // It writes the phases: the operator role and the lease, like any write.
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return new WriteRefusal<ProgramInSituProgress>(denied);
  }
  if (request->averages() > static_cast<std::uint32_t>(kMaxAverages)) {
    return new WriteRefusal<ProgramInSituProgress>(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("averages = ", request->averages(), " exceeds the maximum of ",
                                  kMaxAverages)));
  }
  absl::StatusOr<StoredModel> stored = store_.Get(request->model_id());
  if (!stored.ok()) return new WriteRefusal<ProgramInSituProgress>(ToGrpcStatus(stored.status()));
  absl::StatusOr<ProgrammingSetup> setup =
      PrepareProgramming(*stored, controller_.chip(), *request);
  if (!setup.ok()) {
    spdlog::warn("ProgramInSitu {} refused: {}", request->model_id(), setup.status().ToString());
    return new WriteRefusal<ProgramInSituProgress>(ToGrpcStatus(setup.status()));
  }
  if (grpc::Status s = RequireDeployed(*stored); !s.ok()) {
    return new WriteRefusal<ProgramInSituProgress>(s);
  }
  auto* stream = new ProgramStream(/*latest_only=*/true);
  auto run = std::make_unique<ModelProgrammingRun>(controller_, store_, *std::move(setup),
                                                   request->averages());
  const std::string what = absl::StrCat("in situ programming of model ", run->model_id());
  std::make_shared<ProgrammingDriver>(controller_, access_, std::move(run), stream,
                                      CallGuard::LeaseOf(*context), what)
      ->Start();
  return stream;
}

grpc::ServerUnaryReactor* ModelServiceImpl::GetModel(grpc::CallbackServerContext* context,
                                                     const photonic::v1::GetModelRequest* request,
                                                     photonic::v1::ModelInfo* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) return Refuse(context, denied);
  auto* reactor = context->DefaultReactor();
  // On the hardware thread: whether the model is still deployed depends on
  // the chip's phases.
  controller_.Post([this, reactor, request, response] {
    RefreshDeployment(controller_, store_);
    absl::StatusOr<photonic::v1::ModelInfo> info = store_.Info(request->model_id());
    if (!info.ok()) {
      reactor->Finish(ToGrpcStatus(info.status()));
      return;
    }
    *response = *std::move(info);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ModelServiceImpl::ListModels(grpc::CallbackServerContext* context,
                                                       const photonic::v1::ListModelsRequest*,
                                                       photonic::v1::ListModelsReply* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) return Refuse(context, denied);
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response] {
    RefreshDeployment(controller_, store_);
    for (photonic::v1::ModelInfo& info : store_.List()) *response->add_models() = std::move(info);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ModelServiceImpl::DeleteModel(
    grpc::CallbackServerContext* context, const photonic::v1::DeleteModelRequest* request,
    photonic::v1::DeleteModelReply*) {
  // Not a chip write: the operator role, no lease.
  if (grpc::Status denied = access_.Operate(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, request] {
    RefreshDeployment(controller_, store_);
    if (absl::Status s = store_.Delete(request->model_id()); !s.ok()) {
      reactor->Finish(ToGrpcStatus(s));
      return;
    }
    spdlog::info("model {} deleted", request->model_id());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace phc::daemon
