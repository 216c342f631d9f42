#include "daemon/models/model_store.h"

#include <algorithm>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "daemon/state_io.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

using photonic::v1::ModelInfo;
using photonic::v1::StoredModel;

namespace {

constexpr char kExtension[] = ".pb";
constexpr std::size_t kMaxIdLength = 64;

}  // namespace

absl::Status ValidateModelId(const std::string& id) {
  const bool well_formed =
      !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
  if (well_formed) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "model_id \"", id, "\" must be 1 to ", kMaxIdLength, " characters of a-z, 0-9, '_' and '-'"));
}

std::string RealisationName(trainers::onn::Realisation realisation) {
  return realisation == trainers::onn::Realisation::kDigital ? "digital" : "optical";
}

absl::StatusOr<trainers::onn::Realisation> RealisationFromName(const std::string& name) {
  if (name == "optical") return trainers::onn::Realisation::kOptical;
  if (name == "digital") return trainers::onn::Realisation::kDigital;
  return absl::InvalidArgumentError(
      absl::StrCat("realisation \"", name, "\" is not \"optical\" or \"digital\""));
}

absl::Status ValidateStoredModel(const StoredModel& model, const std::string& chip_name,
                                 const std::string& source) {
  if (model.format_version() == 0) {
    return absl::DataLossError(
        absl::StrCat(source, ": not a stored model (no format_version: empty or corrupt)"));
  }
  if (model.format_version() != kStoredModelFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, ": format_version ", model.format_version(),
                     " is not supported (this photonicd reads ", kStoredModelFormatVersion, ")"));
  }
  if (model.info().chip_name() != chip_name) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, ": model ", model.info().model_id(), " was trained for chip \"",
                     model.info().chip_name(), "\", not this daemon's chip \"", chip_name, "\""));
  }
  if (absl::Status s = trainers::onn::ValidateModelSpec(model.spec()); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": its spec no longer validates: ", s.message()));
  }
  absl::StatusOr<trainers::onn::Realisation> realisation =
      RealisationFromName(model.info().realisation());
  if (!realisation.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", realisation.status().message()));
  }
  absl::StatusOr<trainers::onn::Model> built =
      trainers::onn::Model::Build(model.spec(), *realisation, model.seed());
  if (!built.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", built.status().message()));
  }
  if (model.parameters_size() != built->parameter_count()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", model.parameters_size(), " parameters stored; the ",
                     model.info().realisation(), " model of spec \"", model.spec().name(),
                     "\" has ", built->parameter_count()));
  }
  for (int i = 0; i < model.parameters_size(); ++i) {
    if (!std::isfinite(model.parameters(i))) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": parameter ", i, " is ",
                                                     model.parameters(i), ", not a finite number"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredModel> ParseStoredModel(std::string_view bytes, const std::string& expected_id,
                                             const std::string& chip_name,
                                             const std::string& source) {
  StoredModel model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat(source, ": not a stored model (the file does not parse: corrupt)"));
  }
  if (absl::Status s = ValidateStoredModel(model, chip_name, source); !s.ok()) return s;
  if (model.info().model_id() != expected_id) {
    return absl::DataLossError(absl::StrCat(source, ": holds model \"", model.info().model_id(),
                                            "\", not \"", expected_id, "\" as its name says"));
  }
  return model;
}

absl::StatusOr<trainers::onn::Model> BuildStoredModel(const StoredModel& model) {
  absl::StatusOr<trainers::onn::Realisation> realisation =
      RealisationFromName(model.info().realisation());
  if (!realisation.ok()) return realisation.status();
  absl::StatusOr<trainers::onn::Model> built =
      trainers::onn::Model::Build(model.spec(), *realisation, model.seed());
  if (!built.ok()) return built.status();
  if (model.parameters_size() != built->parameter_count()) {
    return absl::InvalidArgumentError(absl::StrCat("model ", model.info().model_id(), " has ",
                                                   model.parameters_size(), " parameters, not ",
                                                   built->parameter_count()));
  }
  built->SetParameters(
      Eigen::Map<const Eigen::VectorXd>(model.parameters().data(), model.parameters_size()));
  return built;
}

ModelStore::ModelStore(std::filesystem::path state_dir, std::string chip_name)
    : state_dir_(std::move(state_dir)), chip_name_(std::move(chip_name)) {}

std::filesystem::path ModelStore::directory() const {
  return persistent() ? state_dir_ / "models" : std::filesystem::path();
}

std::filesystem::path ModelStore::PathOf(const std::string& model_id) const {
  return directory() / absl::StrCat(model_id, kExtension);
}

absl::StatusOr<StoredModel> ModelStore::ReadFile(const std::filesystem::path& path) const {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  return ParseStoredModel(*bytes, path.stem().string(), chip_name_, path.string());
}

int ModelStore::LoadAll() {
  if (!persistent()) {
    spdlog::info("models are kept in memory only (no state_dir): they are lost at restart");
    return 0;
  }
  std::error_code error;
  const std::filesystem::path dir = directory();
  if (!std::filesystem::is_directory(dir, error)) return 0;
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != kExtension) continue;  // also skips WriteFileAtomically's .tmp
    if (!ValidateModelId(path.stem().string()).ok()) {
      spdlog::warn("ignoring {}: its name is not a model id", path.string());
      continue;
    }
    absl::StatusOr<StoredModel> model = ReadFile(path);
    if (!model.ok()) {
      spdlog::error("model file not loaded: {}", model.status().ToString());
      continue;
    }
    phc::base::MutexLock lock(&mu_);
    models_[model->info().model_id()] = *std::move(model);
    ++loaded;
  }
  if (error) spdlog::error("reading the models in {}: {}", dir.string(), error.message());
  spdlog::info("loaded {} model(s) from {}", loaded, dir.string());
  return loaded;
}

absl::Status ModelStore::CheckNewId(const std::string& model_id) const {
  if (absl::Status s = ValidateModelId(model_id); !s.ok()) return s;
  phc::base::MutexLock lock(&mu_);
  if (models_.contains(model_id)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "model \"", model_id, "\" already exists (photonctl model delete ", model_id, ")"));
  }
  return absl::OkStatus();
}

ModelInfo ModelStore::InfoLocked(const StoredModel& model) const {
  ModelInfo info = model.info();
  const bool deployed = deployed_.has_value() && deployed_->model_id == info.model_id();
  info.set_deployed(deployed);
  info.set_programmed_residual(deployed ? deployed_->programmed_residual : -1.0);
  info.set_persistent(persistent());
  return info;
}

absl::Status ModelStore::WriteLocked(const StoredModel& model) const {
  if (!persistent()) return absl::OkStatus();
  StoredModel on_disk = model;
  on_disk.mutable_info()->clear_deployed();
  on_disk.mutable_info()->clear_persistent();
  on_disk.mutable_info()->clear_programmed_residual();
  return WriteFileAtomically(PathOf(model.info().model_id()), on_disk.SerializeAsString());
}

absl::StatusOr<ModelInfo> ModelStore::Add(StoredModel model) {
  const std::string id = model.info().model_id();
  if (absl::Status s = ValidateModelId(id); !s.ok()) return s;
  model.set_format_version(kStoredModelFormatVersion);
  if (absl::Status s = ValidateStoredModel(model, chip_name_, absl::StrCat("model ", id));
      !s.ok()) {
    return s;
  }
  phc::base::MutexLock lock(&mu_);
  if (models_.contains(id)) {
    return absl::AlreadyExistsError(absl::StrCat("model \"", id, "\" already exists"));
  }
  if (absl::Status s = WriteLocked(model); !s.ok()) return s;
  auto [it, inserted] = models_.emplace(id, std::move(model));
  return InfoLocked(it->second);
}

absl::StatusOr<StoredModel> ModelStore::Get(const std::string& model_id) const {
  phc::base::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("no model \"", model_id, "\" (photonctl model list)"));
  }
  StoredModel model = it->second;
  *model.mutable_info() = InfoLocked(it->second);
  return model;
}

absl::StatusOr<ModelInfo> ModelStore::Info(const std::string& model_id) const {
  phc::base::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("no model \"", model_id, "\" (photonctl model list)"));
  }
  return InfoLocked(it->second);
}

std::vector<ModelInfo> ModelStore::List() const {
  std::vector<ModelInfo> all;
  {
    phc::base::MutexLock lock(&mu_);
    for (const auto& [id, model] : models_) all.push_back(InfoLocked(model));
  }
  std::stable_sort(all.begin(), all.end(), [](const ModelInfo& a, const ModelInfo& b) {
    return a.created_unix_s() < b.created_unix_s();
  });
  return all;
}

absl::Status ModelStore::Delete(const std::string& model_id) {
  phc::base::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("no model \"", model_id, "\" (photonctl model list)"));
  }
  if (deployed_.has_value() && deployed_->model_id == model_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", model_id,
                     " is deployed on the chip; deploy another model or change the chip's "
                     "phases first"));
  }
  if (persistent()) {
    std::error_code error;
    std::filesystem::remove(PathOf(model_id), error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot remove ", PathOf(model_id).string(), ": ",
                                              error.message(), "; the model is kept"));
    }
  }
  models_.erase(it);
  return absl::OkStatus();
}

absl::Status ModelStore::SetDeployed(Deployment deployment) {
  phc::base::MutexLock lock(&mu_);
  if (!models_.contains(deployment.model_id)) {
    return absl::NotFoundError(absl::StrCat("no model \"", deployment.model_id, "\""));
  }
  deployed_ = std::move(deployment);
  return absl::OkStatus();
}

void ModelStore::ClearDeployed() {
  phc::base::MutexLock lock(&mu_);
  deployed_.reset();
}

std::optional<Deployment> ModelStore::deployed() const {
  phc::base::MutexLock lock(&mu_);
  return deployed_;
}

absl::Status ModelStore::SetChipAccuracy(const std::string& model_id, double accuracy) {
  phc::base::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("no model \"", model_id, "\""));
  }
  StoredModel updated = it->second;
  updated.mutable_info()->set_last_chip_accuracy(accuracy);
  if (absl::Status s = WriteLocked(updated); !s.ok()) return s;
  it->second = std::move(updated);
  return absl::OkStatus();
}

}  // namespace phc::daemon
