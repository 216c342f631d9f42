// Training a model in silico for ModelService.TrainInSilico: the request
// validated whole before anything starts, and the training itself (data,
// model, TrainInSilico), which is pure computation and runs on a model
// worker thread (model_workers.h), never on the hardware thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/models/model_store.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"
#include "photonic/v1/model.pb.h"

namespace phc::daemon {

struct InSilicoJob {
  std::string model_id;
  photonic::v1::ModelSpec spec;
  trainers::onn::Realisation realisation = trainers::onn::Realisation::kOptical;
  trainers::onn::InSilicoOptions options;
  int train_limit = 0;  // 0: all
  int test_limit = 0;
};

// The request with its defaults, or the first problem: INVALID_ARGUMENT for
// a malformed id, an invalid spec or an option out of range (naming the
// field), ALREADY_EXISTS for a taken id, FAILED_PRECONDITION naming the
// directory when the spec reads Fashion-MNIST and it is not installed.
// Thread-safe; changes nothing.
absl::StatusOr<InSilicoJob> ValidateTrainInSilico(const photonic::v1::TrainInSilicoRequest& request,
                                                  const ModelStore& store,
                                                  const std::filesystem::path& fashion_mnist_dir);

// Loads the data (errors name the directory), builds and trains the model,
// calling on_epoch after each epoch. The model to store, with its info
// filled (chip_name, counts, accuracy, creation time; deployed false,
// last_chip_accuracy -1); CANCELLED when `cancel` stopped it (nothing to
// store). Does not touch the store.
absl::StatusOr<photonic::v1::StoredModel> RunInSilicoTraining(
    const InSilicoJob& job, const std::filesystem::path& fashion_mnist_dir,
    const std::string& chip_name, const trainers::onn::EpochCallback& on_epoch,
    const std::atomic<bool>* cancel);

}  // namespace phc::daemon
