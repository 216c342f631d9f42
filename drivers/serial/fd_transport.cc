#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "line_buffer.h"
#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {
namespace {

speed_t BaudConstant(int baud) {
  switch (baud) {
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    case 230400:
      return B230400;
    case 460800:
      return B460800;
    case 921600:
      return B921600;
    default:
      return B0;
  }
}

class FdTransport final : public Transport {
 public:
  FdTransport(std::string path, PortSettings settings)
      : path_(std::move(path)), settings_(settings) {}
  ~FdTransport() override { Close(); }

  absl::Status Open() {
    Close();
    fd_ = ::open(path_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) return Gone("cannot open");
    termios tio{};
    if (::tcgetattr(fd_, &tio) != 0) return Gone("not a terminal");
    ::cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS);
    const speed_t speed = BaudConstant(settings_.baud);
    if (speed == B0) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": unsupported baud ", settings_.baud));
    }
    ::cfsetispeed(&tio, speed);
    ::cfsetospeed(&tio, speed);
    if (::tcsetattr(fd_, TCSANOW, &tio) != 0) return Gone("cannot configure");
    lines_.Clear();
    return absl::OkStatus();
  }

  std::string name() const override { return path_; }

  absl::Status Write(std::string_view bytes) override {
    if (fd_ < 0) return absl::UnavailableError(absl::StrCat(path_, ": not open"));
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      if (n <= 0) return Gone("write failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout) override {
    if (fd_ < 0) return absl::UnavailableError(absl::StrCat(path_, ": not open"));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (std::optional<std::string> line = lines_.TakeLine()) return *line;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return absl::DeadlineExceededError(
            absl::StrCat(path_, ": no reply within ", timeout.count(), " ms"));
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return Gone("poll failed");
      if (ready == 0) continue;
      if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return Gone("device hung up");
      char chunk[256];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return Gone("device hung up");
      if (!lines_.Append(std::string_view(chunk, static_cast<std::size_t>(n)))) {
        return absl::DataLossError(
            absl::StrCat(path_, ": line longer than ", LineBuffer::kMaxLine, " bytes"));
      }
    }
  }

  void DiscardInput() override {
    lines_.Clear();
    if (fd_ >= 0) ::tcflush(fd_, TCIFLUSH);
  }

  absl::Status Reopen() override { return Open(); }

 private:
  absl::Status Gone(const char* what) {
    const std::string message = absl::StrCat(path_, ": ", what, ": ", std::strerror(errno));
    Close();
    return absl::UnavailableError(message);
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string path_;
  PortSettings settings_;
  int fd_ = -1;
  LineBuffer lines_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> OpenFdTransport(const std::string& path,
                                                           const PortSettings& settings) {
  auto transport = std::make_unique<FdTransport>(path, settings);
  if (absl::Status s = transport->Open(); !s.ok()) return s;
  return transport;
}

}  // namespace phc::drivers::serial
