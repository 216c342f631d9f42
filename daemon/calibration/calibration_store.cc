#include "daemon/calibration/calibration_store.h"

#include "daemon/config.h"
#include "daemon/state_io.h"
#include "google/protobuf/text_format.h"

namespace phc::daemon {

CalibrationStore::CalibrationStore(std::filesystem::path state_dir, std::string instance)
    : state_dir_(std::move(state_dir)), instance_(std::move(instance)) {}

std::filesystem::path CalibrationStore::path() const {
  return state_dir_ / (instance_ + ".calibration.textproto");
}

absl::StatusOr<photonic::v1::PhaseCalibration> CalibrationStore::Load() const {
  if (!persistent() || !std::filesystem::exists(path())) {
    return absl::NotFoundError("no stored calibration");
  }
  absl::StatusOr<std::string> text = ReadFileToString(path());
  if (!text.ok()) return text.status();
  photonic::v1::PhaseCalibration calibration;
  if (absl::Status s = ParseTextProto(*text, path().string(), calibration); !s.ok()) return s;
  return calibration;
}

absl::Status CalibrationStore::Save(const photonic::v1::PhaseCalibration& calibration) const {
  if (!persistent()) return absl::OkStatus();
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(calibration, &text)) {
    return absl::InternalError("cannot print the calibration");
  }
  return WriteFileAtomically(
      path(),
      "# photonicd calibration (photonic.v1.PhaseCalibration), written by photonicd\n" + text);
}

}  // namespace phc::daemon
