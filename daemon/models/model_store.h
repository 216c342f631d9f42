// The models the daemon keeps: ONN models trained in silico (ModelService),
// each a versioned protobuf file <state_dir>/models/<model_id>.pb written
// atomically (state_io.h), and which of them is deployed on the chip.
// Without a state directory models live in memory only.
//
// Thread safety: every method is thread-safe (one mutex). File writes happen
// under it: they are small and rare (a training's end, a deletion, an
// evaluation's result).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/base/mutex.h"
#include "phc/trainers/onn/model.h"
#include "photonic/v1/model.pb.h"

namespace phc::daemon {

inline constexpr std::uint32_t kStoredModelFormatVersion = 1;

// OK for [a-z0-9_-]{1,64}; INVALID_ARGUMENT naming the id otherwise.
absl::Status ValidateModelId(const std::string& id);

// "optical" / "digital", and back (INVALID_ARGUMENT for another string).
std::string RealisationName(trainers::onn::Realisation realisation);
absl::StatusOr<trainers::onn::Realisation> RealisationFromName(const std::string& name);

// Checks a stored model as the daemon would load it for chip `chip_name`:
// format_version (0 or a non-number: DATA_LOSS; another version:
// FAILED_PRECONDITION), the chip (FAILED_PRECONDITION naming both chips),
// the spec (ValidateModelSpec's INVALID_ARGUMENT), the realisation, and the
// parameters (INVALID_ARGUMENT for the wrong count or a non-finite value).
// `source` names the file in the messages.
absl::Status ValidateStoredModel(const photonic::v1::StoredModel& model,
                                 const std::string& chip_name, const std::string& source);

// Parses and validates the bytes of a <model_id>.pb file: DATA_LOSS for
// bytes that are not a StoredModel or a model_id that is not the file's,
// then ValidateStoredModel's errors.
absl::StatusOr<photonic::v1::StoredModel> ParseStoredModel(std::string_view bytes,
                                                           const std::string& expected_id,
                                                           const std::string& chip_name,
                                                           const std::string& source);

// The model with its stored parameters.
// REQUIRES: a model that passed ValidateStoredModel.
absl::StatusOr<trainers::onn::Model> BuildStoredModel(const photonic::v1::StoredModel& model);

// The chip's phases while a model is deployed (wrapped, as ChipController
// reports them).
struct Deployment {
  std::string model_id = {};
  std::vector<double> phases_rad = {};
  // Set by ProgramInSitu: the receivers' calibration per chip output
  // (ChipPlacement::output_offset_mw / output_gain_per_mw) and the cores'
  // mean relative residual; empty and -1 for a plain Deploy.
  std::vector<double> output_offset_mw = {};
  std::vector<double> output_gain_per_mw = {};
  double programmed_residual = -1.0;
};

class ModelStore {
 public:
  // state_dir empty: models are kept in memory only. chip_name: the
  // daemon's chip; models of other chips are refused.
  ModelStore(std::filesystem::path state_dir, std::string chip_name);

  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  bool persistent() const { return !state_dir_.empty(); }
  const std::string& chip_name() const { return chip_name_; }
  // <state_dir>/models; empty without a state directory.
  std::filesystem::path directory() const;
  std::filesystem::path PathOf(const std::string& model_id) const;

  // Reads every <id>.pb of directory(). A file that does not load is
  // logged with its reason and skipped (the file stays). Returns how many
  // models were loaded. Call once, before serving.
  int LoadAll();
  // One file, as LoadAll reads it: NOT_FOUND if missing, else
  // ParseStoredModel's errors. Nothing changes in the store.
  absl::StatusOr<photonic::v1::StoredModel> ReadFile(const std::filesystem::path& path) const;

  // INVALID_ARGUMENT for a malformed id, ALREADY_EXISTS for a taken one.
  absl::Status CheckNewId(const std::string& model_id) const;

  // Validates, writes the file (persistent stores) and keeps the model;
  // info.persistent is set here. ALREADY_EXISTS for a taken id; on any
  // error nothing is kept or written.
  absl::StatusOr<photonic::v1::ModelInfo> Add(photonic::v1::StoredModel model);

  // NOT_FOUND naming the id.
  absl::StatusOr<photonic::v1::StoredModel> Get(const std::string& model_id) const;
  absl::StatusOr<photonic::v1::ModelInfo> Info(const std::string& model_id) const;
  // Oldest first (then by id).
  std::vector<photonic::v1::ModelInfo> List() const;

  // NOT_FOUND; FAILED_PRECONDITION for the deployed model; INTERNAL when
  // the file cannot be removed (the model is kept then).
  absl::Status Delete(const std::string& model_id);

  // Records that the chip's phases are now `deployment.model_id`'s.
  // NOT_FOUND for an unknown model (nothing recorded then).
  absl::Status SetDeployed(Deployment deployment);
  void ClearDeployed();
  std::optional<Deployment> deployed() const;

  // Records an evaluation's accuracy (and rewrites the file). NOT_FOUND.
  absl::Status SetChipAccuracy(const std::string& model_id, double accuracy);

 private:
  photonic::v1::ModelInfo InfoLocked(const photonic::v1::StoredModel& model) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteLocked(const photonic::v1::StoredModel& model) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::filesystem::path state_dir_;
  const std::string chip_name_;
  mutable phc::base::Mutex mu_;
  std::map<std::string, photonic::v1::StoredModel, std::less<>> models_ ABSL_GUARDED_BY(mu_);
  std::optional<Deployment> deployed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace phc::daemon
