#include "daemon/calibration/calibration_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "daemon/config.h"
#include "google/protobuf/text_format.h"

namespace phc::daemon {
namespace {

absl::Status Errno(const std::string& what, const std::filesystem::path& path) {
  return absl::InternalError(absl::StrCat(what, " ", path.string(), ": ", std::strerror(errno)));
}

}  // namespace

absl::Status WriteFileAtomically(const std::filesystem::path& path, const std::string& contents) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path.parent_path().string(), ": ", error.message()));
  }
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Errno("cannot write", temp);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Errno("cannot sync", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return Errno("cannot rename onto", path);
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

CalibrationStore::CalibrationStore(std::filesystem::path state_dir, std::string instance)
    : state_dir_(std::move(state_dir)), instance_(std::move(instance)) {}

std::filesystem::path CalibrationStore::path() const {
  return state_dir_ / (instance_ + ".calibration.textproto");
}

absl::StatusOr<photonic::v1::PhaseCalibration> CalibrationStore::Load() const {
  if (!persistent() || !std::filesystem::exists(path())) {
    return absl::NotFoundError("no stored calibration");
  }
  absl::StatusOr<std::string> text = ReadTextFile(path());
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
