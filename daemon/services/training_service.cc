#include "daemon/services/training_service.h"

#include "absl/base/thread_annotations.h"
#include "daemon/services/service_refusal.h"
#include "daemon/status_convert.h"
#include "phc/base/mutex.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

using photonic::v1::SessionStatus;

// Streams a session's statuses. The manager calls Offer (with its watcher
// lock held); the newest undelivered status replaces an older one. After
// the session's last status is written the call finishes, from
// OnWriteDone, never from inside Offer.
class WatchReactor final : public grpc::ServerWriteReactor<SessionStatus> {
 public:
  // The manager's watcher holds a shared channel; OnDone closes it before
  // the reactor is freed, so a late Offer finds it closed.
  struct Channel {
    phc::base::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  };

  WatchReactor() : channel_(std::make_shared<Channel>()) { channel_->reactor = this; }

  std::shared_ptr<Channel> channel() const { return channel_; }

  static bool Offer(const std::shared_ptr<Channel>& channel, const SessionStatus& status,
                    bool last) {
    phc::base::MutexLock lock(&channel->mu);
    if (channel->reactor == nullptr) return false;
    return channel->reactor->Enqueue(status, last);
  }

  void Refuse(grpc::Status status) {
    {
      phc::base::MutexLock lock(&mu_);
      finished_ = true;
      gone_ = true;
    }
    Finish(status);
  }

  // A write can complete with ok after OnCancel ran (gRPC dispatches the two
  // separately): the call is finished here then, since OnCancel left it to
  // this write and nothing else would.
  void OnWriteDone(bool ok) override {
    bool finish = false;
    bool cancelled = false;
    {
      phc::base::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) gone_ = true;
      if (gone_) {
        has_pending_ = false;
        cancelled = true;
        finish = ClaimFinishLocked();
      } else if (has_pending_) {
        StartNextLocked();
      } else if (last_sent_) {
        finish = ClaimFinishLocked();
      }
    }
    // Finish may run OnDone at once: nothing touches this afterwards.
    if (finish) {
      Finish(cancelled ? grpc::Status(grpc::StatusCode::CANCELLED, "watch stream closed")
                       : grpc::Status::OK);
    }
  }

  // A cancelled call still needs its Finish; with a write in flight,
  // OnWriteDone gives it.
  void OnCancel() override {
    bool finish = false;
    {
      phc::base::MutexLock lock(&mu_);
      gone_ = true;
      if (!writing_) finish = ClaimFinishLocked();
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      phc::base::MutexLock lock(&channel_->mu);
      channel_->reactor = nullptr;
    }
    delete this;
  }

 private:
  // Called with the channel lock held.
  bool Enqueue(const SessionStatus& status, bool last) ABSL_LOCKS_EXCLUDED(mu_) {
    phc::base::MutexLock lock(&mu_);
    if (gone_) return false;
    pending_ = status;
    has_pending_ = true;
    pending_last_ = last;
    if (!writing_) StartNextLocked();
    return !last;
  }

  bool ClaimFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = pending_;
    has_pending_ = false;
    last_sent_ = pending_last_;
    writing_ = true;
    StartWrite(&current_);
  }

  std::shared_ptr<Channel> channel_;
  phc::base::Mutex mu_;
  SessionStatus pending_ ABSL_GUARDED_BY(mu_);
  SessionStatus current_ ABSL_GUARDED_BY(mu_);  // being written to the client
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool pending_last_ ABSL_GUARDED_BY(mu_) = false;
  bool last_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

template <typename Call>
grpc::ServerUnaryReactor* TrainingServiceImpl::OnHardwareThread(
    grpc::CallbackServerContext* context, SessionStatus* response, bool writes, Call call) {
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response, call = std::move(call), writes,
                    lease = CallGuard::LeaseOf(*context)] {
    if (writes) {
      if (absl::Status s = access_.CheckLease(lease); !s.ok()) {
        reactor->Finish(ToGrpcStatus(s));
        return;
      }
    }
    absl::StatusOr<SessionStatus> status = call();
    if (!status.ok()) {
      reactor->Finish(ToGrpcStatus(status.status()));
      return;
    }
    *response = *std::move(status);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* TrainingServiceImpl::StartSession(
    grpc::CallbackServerContext* context, const photonic::v1::StartSessionRequest* request,
    SessionStatus* response) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  return OnHardwareThread(context, response, true, [this, request] {
    absl::StatusOr<SessionStatus> status = sessions_.Start(request->config());
    if (!status.ok()) spdlog::warn("StartSession refused: {}", status.status().ToString());
    return status;
  });
}

grpc::ServerUnaryReactor* TrainingServiceImpl::PauseSession(
    grpc::CallbackServerContext* context, const photonic::v1::SessionRequest* request,
    SessionStatus* response) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  return OnHardwareThread(context, response, true,
                          [this, request] { return sessions_.Pause(request->id()); });
}

grpc::ServerUnaryReactor* TrainingServiceImpl::ResumeSession(
    grpc::CallbackServerContext* context, const photonic::v1::SessionRequest* request,
    SessionStatus* response) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  return OnHardwareThread(context, response, true,
                          [this, request] { return sessions_.Resume(request->id()); });
}

grpc::ServerUnaryReactor* TrainingServiceImpl::CancelSession(
    grpc::CallbackServerContext* context, const photonic::v1::SessionRequest* request,
    SessionStatus* response) {
  if (grpc::Status denied = access_.Write(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  return OnHardwareThread(context, response, true,
                          [this, request] { return sessions_.Cancel(request->id()); });
}

grpc::ServerUnaryReactor* TrainingServiceImpl::GetSession(
    grpc::CallbackServerContext* context, const photonic::v1::SessionRequest* request,
    SessionStatus* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  return OnHardwareThread(context, response, false,
                          [this, request] { return sessions_.Get(request->id()); });
}

grpc::ServerUnaryReactor* TrainingServiceImpl::ListSessions(
    grpc::CallbackServerContext* context, const photonic::v1::ListSessionsRequest*,
    photonic::v1::ListSessionsResponse* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response] {
    for (SessionStatus& status : sessions_.List()) *response->add_sessions() = std::move(status);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<SessionStatus>* TrainingServiceImpl::WatchSession(
    grpc::CallbackServerContext* context, const photonic::v1::SessionRequest* request) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return new WriteRefusal<SessionStatus>(denied);
  }
  auto* reactor = new WatchReactor();
  absl::Status watching = sessions_.Watch(
      request->id(), [channel = reactor->channel()](const SessionStatus& status, bool last) {
        return WatchReactor::Offer(channel, status, last);
      });
  if (!watching.ok()) reactor->Refuse(ToGrpcStatus(watching));
  return reactor;
}

}  // namespace phc::daemon
