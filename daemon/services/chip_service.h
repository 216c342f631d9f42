// ChipService over the gRPC callback API. Reactions never block: each call
// posts its work to the ChipController's hardware thread, which finishes the
// call when the work is done.
#pragma once

#include "daemon/chip/chip_controller.h"
#include "daemon/services/call_guard.h"
#include "daemon/services/rpc_observer.h"
#include "photonic/v1/chip.grpc.pb.h"

namespace phc::daemon {

class ChipServiceImpl final : public photonic::v1::ChipService::CallbackService {
 public:
  ChipServiceImpl(ChipController& controller, const CallGuard& access, LeaseManager& leases)
      : controller_(controller), access_(access), leases_(leases) {}

  grpc::ServerUnaryReactor* GetChipInfo(grpc::CallbackServerContext* context,
                                        const photonic::v1::GetChipInfoRequest* request,
                                        photonic::v1::ChipInfo* response) override;
  grpc::ServerUnaryReactor* SetPhases(grpc::CallbackServerContext* context,
                                      const photonic::v1::SetPhasesRequest* request,
                                      photonic::v1::SetPhasesResponse* response) override;
  grpc::ServerUnaryReactor* GetPhases(grpc::CallbackServerContext* context,
                                      const photonic::v1::GetPhasesRequest* request,
                                      photonic::v1::GetPhasesResponse* response) override;
  grpc::ServerUnaryReactor* SetInputs(grpc::CallbackServerContext* context,
                                      const photonic::v1::SetInputsRequest* request,
                                      photonic::v1::SetInputsResponse* response) override;
  grpc::ServerUnaryReactor* GetTemperature(grpc::CallbackServerContext* context,
                                           const photonic::v1::GetTemperatureRequest* request,
                                           photonic::v1::Temperature* response) override;
  grpc::ServerUnaryReactor* SetTemperatureSetpoint(
      grpc::CallbackServerContext* context,
      const photonic::v1::SetTemperatureSetpointRequest* request,
      photonic::v1::Temperature* response) override;
  grpc::ServerUnaryReactor* ReadDetectors(grpc::CallbackServerContext* context,
                                          const photonic::v1::ReadDetectorsRequest* request,
                                          photonic::v1::ReadDetectorsResponse* response) override;
  grpc::ServerUnaryReactor* SetPowerBudget(grpc::CallbackServerContext* context,
                                           const photonic::v1::SetPowerBudgetRequest* request,
                                           photonic::v1::Limits* response) override;
  grpc::ServerBidiReactor<photonic::v1::QueryRequest, photonic::v1::QueryResponse>* Query(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* AcquireLease(grpc::CallbackServerContext* context,
                                         const photonic::v1::AcquireLeaseRequest* request,
                                         photonic::v1::Lease* response) override;
  grpc::ServerUnaryReactor* ReleaseLease(grpc::CallbackServerContext* context,
                                         const photonic::v1::ReleaseLeaseRequest* request,
                                         photonic::v1::Lease* response) override;
  grpc::ServerUnaryReactor* GetLease(grpc::CallbackServerContext* context,
                                     const photonic::v1::GetLeaseRequest* request,
                                     photonic::v1::Lease* response) override;

  // Query streams report themselves here (no interceptor sees them). Set
  // before serving; null: not reported.
  void set_query_observer(RpcObserver* observer) { query_observer_ = observer; }

 private:
  RpcObserver* query_observer_ = nullptr;
  ChipController& controller_;
  const CallGuard& access_;
  LeaseManager& leases_;
};

}  // namespace phc::daemon
