// CalibrationService over the gRPC callback API. Calibration runs on the
// hardware thread (the chip is busy meanwhile); progress is streamed, only
// the latest update being kept while a write is in flight.
#pragma once

#include <optional>

#include "daemon/calibration/calibration_store.h"
#include "daemon/chip_controller.h"
#include "daemon/services/call_guard.h"
#include "photonic/v1/calibration.grpc.pb.h"

namespace phc::daemon {

// The chip's present calibration. Hardware thread only.
struct CalibrationState {
  std::optional<photonic::v1::PhaseCalibration> current;
  CalibrationStore store;
};

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
