// CalibrationService over the gRPC callback API. A calibration runs on the
// controller's worker pool and holds the chip's write lease; its
// measurements take the hardware one by one, so reads go on meanwhile.
// Progress is streamed, only the latest update being kept while a write is
// in flight. A client that goes away does not stop it; CancelCalibration
// does.
#pragma once

#include <memory>
#include <optional>

#include "daemon/calibration/calibration_store.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/services/call_guard.h"
#include "photonic/v1/calibration.grpc.pb.h"

namespace phc::daemon {

class CalibrationJob;

// The chip's present calibration, and the one running. Holding the hardware
// only.
struct CalibrationState {
  std::optional<photonic::v1::PhaseCalibration> current;
  CalibrationStore store;
  std::shared_ptr<CalibrationJob> running;
};

// Cancels the running calibration, if any, and waits until it has ended
// (chip safe, lease free). REQUIRES: not holding the hardware.
void CancelRunningCalibration(ChipController& controller, CalibrationState& state);

// Loads a stored calibration into the controller, if one exists and fits.
// REQUIRES: hardware thread.
void LoadStoredCalibration(ChipController& controller, CalibrationState& state);

class CalibrationServiceImpl final : public photonic::v1::CalibrationService::CallbackService {
 public:
  CalibrationServiceImpl(ChipController& controller, CalibrationState& state,
                         const CallGuard& access)
      : controller_(controller), access_(access), state_(state) {}

  grpc::ServerWriteReactor<photonic::v1::CalibrationProgress>* Calibrate(
      grpc::CallbackServerContext* context, const photonic::v1::CalibrateRequest* request) override;
  grpc::ServerUnaryReactor* CancelCalibration(
      grpc::CallbackServerContext* context, const photonic::v1::CancelCalibrationRequest* request,
      photonic::v1::CancelCalibrationReply* response) override;
  grpc::ServerUnaryReactor* GetCalibration(grpc::CallbackServerContext* context,
                                           const photonic::v1::GetCalibrationRequest* request,
                                           photonic::v1::PhaseCalibration* response) override;
  grpc::ServerUnaryReactor* ProgramUnitary(grpc::CallbackServerContext* context,
                                           const photonic::v1::ProgramUnitaryRequest* request,
                                           photonic::v1::ProgramUnitaryResponse* response) override;

 private:
  ChipController& controller_;
  const CallGuard& access_;
  CalibrationState& state_;
};

}  // namespace phc::daemon
