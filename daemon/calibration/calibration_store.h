// Keeps a chip's calibration on disk (protobuf text format, one file per chip
// instance in the state directory), replaced atomically (state_io.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "photonic/v1/calibration.pb.h"

namespace phc::daemon {

class CalibrationStore {
 public:
  // state_dir empty: nothing is kept on disk. instance names the chip
  // (name plus backend identity, e.g. "clements8.sim-seed-1").
  CalibrationStore(std::filesystem::path state_dir, std::string instance);

  bool persistent() const { return !state_dir_.empty(); }
  std::filesystem::path path() const;

  // NOT_FOUND when there is none.
  absl::StatusOr<photonic::v1::PhaseCalibration> Load() const;
  absl::Status Save(const photonic::v1::PhaseCalibration& calibration) const;

 private:
  std::filesystem::path state_dir_;
  std::string instance_;
};

}  // namespace phc::daemon
