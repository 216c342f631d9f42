// Real serial ports through libserialport (USB-serial adapters, RS-232),
// and the backend choice between it and the termios transport.
#include <libserialport.h>

#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "line_buffer.h"
#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {
namespace {

std::string LastError() {
  char* message = sp_last_error_message();
  std::string text = message ? message : "unknown error";
  sp_free_error_message(message);
  return text;
}

class SerialPortTransport final : public Transport {
 public:
  SerialPortTransport(std::string path, PortSettings settings)
      : path_(std::move(path)), settings_(settings) {}
  ~SerialPortTransport() override { Close(); }

  absl::Status Open() {
    Close();
    if (sp_get_port_by_name(path_.c_str(), &port_) != SP_OK) return Gone("no such port");
    if (sp_open(port_, SP_MODE_READ_WRITE) != SP_OK) return Gone("cannot open");
    if (sp_set_baudrate(port_, settings_.baud) != SP_OK || sp_set_bits(port_, 8) != SP_OK ||
        sp_set_parity(port_, SP_PARITY_NONE) != SP_OK || sp_set_stopbits(port_, 1) != SP_OK ||
        sp_set_flowcontrol(port_, SP_FLOWCONTROL_NONE) != SP_OK) {
      return Gone(absl::StrCat("cannot configure ", settings_.baud, " 8N1").c_str());
    }
    lines_.Clear();
    return absl::OkStatus();
  }

  std::string name() const override { return path_; }

  absl::Status Write(std::string_view bytes) override {
    if (port_ == nullptr) return absl::UnavailableError(absl::StrCat(path_, ": not open"));
    const sp_return written = sp_blocking_write(port_, bytes.data(), bytes.size(), 1000);
    if (written < 0 || static_cast<std::size_t>(written) != bytes.size()) {
      return Gone("write failed");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout) override {
    if (port_ == nullptr) return absl::UnavailableError(absl::StrCat(path_, ": not open"));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (std::optional<std::string> line = lines_.TakeLine()) return *line;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return absl::DeadlineExceededError(
            absl::StrCat(path_, ": no reply within ", timeout.count(), " ms"));
      }
      char chunk[256];
      const sp_return n =
          sp_blocking_read_next(port_, chunk, sizeof chunk, static_cast<unsigned>(left.count()));
      if (n < 0) return Gone("read failed");
      if (!lines_.Append(std::string_view(chunk, static_cast<std::size_t>(n)))) {
        return absl::DataLossError(
            absl::StrCat(path_, ": line longer than ", LineBuffer::kMaxLine, " bytes"));
      }
    }
  }

  void DiscardInput() override {
    lines_.Clear();
    if (port_ != nullptr) sp_flush(port_, SP_BUF_INPUT);
  }

  absl::Status Reopen() override { return Open(); }

 private:
  absl::Status Gone(const char* what) {
    const std::string message = absl::StrCat(path_, ": ", what, ": ", LastError());
    Close();
    return absl::UnavailableError(message);
  }

  void Close() {
    if (port_ == nullptr) return;
    sp_close(port_);
    sp_free_port(port_);
    port_ = nullptr;
  }

  std::string path_;
  PortSettings settings_;
  sp_port* port_ = nullptr;
  LineBuffer lines_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> OpenSerialPortTransport(const std::string& path,
                                                                   const PortSettings& settings) {
  auto transport = std::make_unique<SerialPortTransport>(path, settings);
  if (absl::Status s = transport->Open(); !s.ok()) return s;
  return transport;
}

bool IsPseudoTerminal(const std::string& path) {
  std::error_code error;
  const std::filesystem::path target = std::filesystem::canonical(path, error);
  return !error && target.string().starts_with("/dev/pts/");
}

absl::StatusOr<std::unique_ptr<Transport>> OpenPort(const std::string& path,
                                                    const PortSettings& settings) {
  if (IsPseudoTerminal(path)) return OpenFdTransport(path, settings);
  return OpenSerialPortTransport(path, settings);
}

}  // namespace phc::drivers::serial
