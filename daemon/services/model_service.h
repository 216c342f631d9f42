// ModelService over the gRPC callback API: ONN models trained in silico on a
// model worker thread (never the hardware thread), deployed on the chip
// through the controller, evaluated on the chip in batches on the hardware
// thread. Reactions never block: each call validates its request, then
// hands the work to a worker or posts it to the hardware thread.
#pragma once

#include <filesystem>

#include "daemon/chip/chip_controller.h"
#include "daemon/models/model_store.h"
#include "daemon/models/model_workers.h"
#include "daemon/services/call_guard.h"
#include "photonic/v1/model.grpc.pb.h"

namespace phc::daemon {

class ModelServiceImpl final : public photonic::v1::ModelService::CallbackService {
 public:
  // fashion_mnist_dir: the daemon config's (empty: PHC_FASHION_MNIST_DIR or
  // Debian's directory, see trainers::FashionMnistDir).
  ModelServiceImpl(ChipController& controller, ModelStore& store, ModelWorkers& workers,
                   const CallGuard& access, std::filesystem::path fashion_mnist_dir)
      : controller_(controller),
        store_(store),
        workers_(workers),
        access_(access),
        fashion_mnist_dir_(std::move(fashion_mnist_dir)) {}

  grpc::ServerWriteReactor<photonic::v1::TrainInSilicoProgress>* TrainInSilico(
      grpc::CallbackServerContext* context,
      const photonic::v1::TrainInSilicoRequest* request) override;
  grpc::ServerUnaryReactor* Deploy(grpc::CallbackServerContext* context,
                                   const photonic::v1::DeployRequest* request,
                                   photonic::v1::DeployReply* response) override;
  grpc::ServerWriteReactor<photonic::v1::EvaluateProgress>* Evaluate(
      grpc::CallbackServerContext* context, const photonic::v1::EvaluateRequest* request) override;
  grpc::ServerWriteReactor<photonic::v1::ProgramInSituProgress>* ProgramInSitu(
      grpc::CallbackServerContext* context,
      const photonic::v1::ProgramInSituRequest* request) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const photonic::v1::GetModelRequest* request,
                                     photonic::v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const photonic::v1::ListModelsRequest* request,
                                       photonic::v1::ListModelsReply* response) override;
  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* context,
                                        const photonic::v1::DeleteModelRequest* request,
                                        photonic::v1::DeleteModelReply* response) override;

 private:
  ChipController& controller_;
  ModelStore& store_;
  ModelWorkers& workers_;
  const CallGuard& access_;
  const std::filesystem::path fashion_mnist_dir_;
};

}  // namespace phc::daemon
