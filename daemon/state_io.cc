#include "daemon/state_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace phc::daemon {
namespace {

// `error` is an errno value, read by the caller before any other call.
absl::Status SystemError(const std::string& what, const std::filesystem::path& path, int error) {
  return absl::InternalError(absl::StrCat(what, " ", path.string(), ": ", std::strerror(error)));
}

absl::Status WriteAll(int fd, std::string_view contents, const std::filesystem::path& path) {
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("cannot write", path, errno);
    }
    written += static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

// Makes a rename inside `dir` durable. Best effort: the rename itself has
// happened, and some file systems cannot sync a directory.
void SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat(path.string(), " does not exist"));
    return SystemError("cannot open", path, error);
  }
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const absl::Status status = SystemError("cannot read", path, errno);
      ::close(fd);
      return status;
    }
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return contents;
}

absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create directory ", dir.string(), ": ", error.message()));
  }
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return SystemError("cannot create", temp, errno);
  absl::Status status = WriteAll(fd, contents, temp);
  if (status.ok() && ::fsync(fd) != 0) status = SystemError("cannot sync", temp, errno);
  if (::close(fd) != 0 && status.ok()) status = SystemError("cannot close", temp, errno);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_error = errno;
    status =
        SystemError(absl::StrCat("cannot rename ", temp.string(), " onto"), path, rename_error);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  SyncDirectory(dir);
  return absl::OkStatus();
}

}  // namespace phc::daemon
