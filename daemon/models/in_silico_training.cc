#include "daemon/models/in_silico_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "phc/trainers/dataset.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

using photonic::v1::StoredModel;
using photonic::v1::TrainInSilicoRequest;

namespace {

constexpr std::uint32_t kMaxEpochs = 10000;  // InSilicoOptions' ranges
constexpr std::uint32_t kMaxBatch = 65536;
constexpr std::uint32_t kMaxTrainSamples = 60000;
constexpr std::uint32_t kMaxTestSamples = 10000;

absl::Status OutOfRange(const char* field, double value, const char* range) {
  return absl::InvalidArgumentError(absl::StrCat(field, " = ", value, " must be in ", range));
}

}  // namespace

absl::StatusOr<InSilicoJob> ValidateTrainInSilico(const TrainInSilicoRequest& request,
                                                  const ModelStore& store,
                                                  const std::filesystem::path& fashion_mnist_dir) {
  if (absl::Status s = store.CheckNewId(request.model_id()); !s.ok()) return s;
  if (!request.has_spec()) return absl::InvalidArgumentError("spec is missing");
  if (absl::Status s = trainers::onn::ValidateModelSpec(request.spec()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("spec: ", s.message()));
  }
  InSilicoJob job;
  job.model_id = request.model_id();
  job.spec = request.spec();
  job.realisation = request.digital_twin() ? trainers::onn::Realisation::kDigital
                                           : trainers::onn::Realisation::kOptical;
  // 0 means the default; a value too large for an int is out of range alike.
  const trainers::onn::InSilicoOptions defaults;
  job.options = {
      .epochs = request.epochs() == 0
                    ? defaults.epochs
                    : static_cast<int>(std::min<std::uint32_t>(request.epochs(), kMaxEpochs + 1)),
      .batch_size = request.batch_size() == 0 ? defaults.batch_size
                                              : static_cast<int>(std::min<std::uint32_t>(
                                                    request.batch_size(), kMaxBatch + 1)),
      .learning_rate =
          request.learning_rate() == 0.0 ? defaults.learning_rate : request.learning_rate(),
      .phase_noise_std_rad = request.phase_noise_std_rad(),
      .seed = request.seed()};
  if (absl::Status s = trainers::onn::ValidateInSilicoOptions(job.options); !s.ok()) return s;
  if (request.train_limit() > kMaxTrainSamples) {
    return OutOfRange("train_limit", request.train_limit(), "[0, 60000] (0: all)");
  }
  if (request.test_limit() > kMaxTestSamples) {
    return OutOfRange("test_limit", request.test_limit(), "[0, 10000] (0: all)");
  }
  job.train_limit = static_cast<int>(request.train_limit());
  job.test_limit = static_cast<int>(request.test_limit());
  if (job.spec.input().dataset() == "fashion-mnist") {
    const std::filesystem::path dir = trainers::FashionMnistDir(fashion_mnist_dir);
    std::error_code ignored;
    if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz", ignored)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Fashion-MNIST is not installed in ", dir.string(),
          " (apt-get install dataset-fashion-mnist, or name its directory in the daemon config's "
          "fashion_mnist_dir or in ",
          trainers::kFashionMnistDirVariable, ")"));
    }
  }
  return job;
}

absl::StatusOr<StoredModel> RunInSilicoTraining(const InSilicoJob& job,
                                                const std::filesystem::path& fashion_mnist_dir,
                                                const std::string& chip_name,
                                                const trainers::onn::EpochCallback& on_epoch,
                                                const std::atomic<bool>* cancel) {
  absl::StatusOr<trainers::onn::ModelData> data = trainers::onn::LoadModelData(
      job.spec, trainers::FashionMnistDir(fashion_mnist_dir), job.train_limit, job.test_limit);
  if (!data.ok()) return data.status();
  absl::StatusOr<trainers::onn::Model> model =
      trainers::onn::Model::Build(job.spec, job.realisation, job.options.seed);
  if (!model.ok()) return model.status();
  spdlog::info("model {}: training {} ({}, {} parameters) in silico on {} samples, {} epochs",
               job.model_id, job.spec.name(), RealisationName(job.realisation),
               model->parameter_count(), data->train.size(), job.options.epochs);
  absl::StatusOr<trainers::onn::InSilicoResult> result =
      trainers::onn::TrainInSilico(*model, data->train, data->test, job.options, on_epoch, cancel);
  if (!result.ok()) return result.status();
  if (result->cancelled || (cancel != nullptr && cancel->load())) {
    spdlog::info("model {}: in silico training cancelled; nothing stored", job.model_id);
    return absl::CancelledError(
        absl::StrCat("in silico training of model ", job.model_id, " cancelled"));
  }
  StoredModel stored;
  stored.set_format_version(kStoredModelFormatVersion);
  stored.set_seed(job.options.seed);
  *stored.mutable_spec() = job.spec;
  const Eigen::VectorXd parameters = model->Parameters();
  stored.mutable_parameters()->Assign(parameters.data(), parameters.data() + parameters.size());
  photonic::v1::ModelInfo& info = *stored.mutable_info();
  info.set_model_id(job.model_id);
  info.set_spec_name(job.spec.name());
  info.set_realisation(RealisationName(job.realisation));
  info.set_chip_name(chip_name);
  info.set_core_count(static_cast<std::uint32_t>(model->core_count()));
  info.set_phase_count(static_cast<std::uint32_t>(model->phase_count()));
  info.set_parameter_count(static_cast<std::uint32_t>(model->parameter_count()));
  info.set_in_silico_test_accuracy(result->test_accuracy);
  info.set_created_unix_s(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  info.set_last_chip_accuracy(-1.0);
  return stored;
}

}  // namespace phc::daemon
