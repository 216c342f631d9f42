// TrainingService over gRPC: unary calls run on the controller's hardware
// thread (posted, never blocking a reactor); WatchSession streams statuses.
#pragma once

#include "daemon/chip/chip_controller.h"
#include "daemon/services/call_guard.h"
#include "daemon/training/session_manager.h"
#include "photonic/v1/training.grpc.pb.h"

namespace phc::daemon {

class TrainingServiceImpl final : public photonic::v1::TrainingService::CallbackService {
 public:
  TrainingServiceImpl(ChipController& controller, SessionManager& sessions, const CallGuard& access)
      : controller_(controller), access_(access), sessions_(sessions) {}

  grpc::ServerUnaryReactor* StartSession(grpc::CallbackServerContext* context,
                                         const photonic::v1::StartSessionRequest* request,
                                         photonic::v1::SessionStatus* response) override;
  grpc::ServerWriteReactor<photonic::v1::SessionStatus>* WatchSession(
      grpc::CallbackServerContext* context, const photonic::v1::SessionRequest* request) override;
  grpc::ServerUnaryReactor* PauseSession(grpc::CallbackServerContext* context,
                                         const photonic::v1::SessionRequest* request,
                                         photonic::v1::SessionStatus* response) override;
  grpc::ServerUnaryReactor* ResumeSession(grpc::CallbackServerContext* context,
                                          const photonic::v1::SessionRequest* request,
                                          photonic::v1::SessionStatus* response) override;
  grpc::ServerUnaryReactor* CancelSession(grpc::CallbackServerContext* context,
                                          const photonic::v1::SessionRequest* request,
                                          photonic::v1::SessionStatus* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const photonic::v1::SessionRequest* request,
                                       photonic::v1::SessionStatus* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const photonic::v1::ListSessionsRequest* request,
                                         photonic::v1::ListSessionsResponse* response) override;

 private:
  // Runs call on the hardware thread; `writes`: check the caller's lease
  // there first.
  template <typename Call>
  grpc::ServerUnaryReactor* OnHardwareThread(grpc::CallbackServerContext* context,
                                             photonic::v1::SessionStatus* response, bool writes,
                                             Call call);

  ChipController& controller_;
  const CallGuard& access_;
  SessionManager& sessions_;
};

}  // namespace phc::daemon
