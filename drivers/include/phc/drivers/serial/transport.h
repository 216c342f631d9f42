// Byte transports under the serial instrument protocols: a line-oriented
// seam with a real-port backend (termios file descriptor: serial ports and
// pseudo-terminals), an in-process fake device for unit tests, and a
// fault-injecting wrapper.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace phc::drivers::serial {

class Transport {
 public:
  virtual ~Transport() = default;
  // Human-readable: the device path, or "fake".
  virtual std::string name() const = 0;
  // UNAVAILABLE when the device is gone.
  virtual absl::Status Write(std::string_view bytes) = 0;
  // The next line without its terminator ("\n", "\r\n" or "\r").
  // DEADLINE_EXCEEDED after `timeout` without a full line; UNAVAILABLE
  // when the device is gone.
  virtual absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout) = 0;
  // Drops buffered input (after a timeout, so a late reply is not taken for
  // the next command's).
  virtual void DiscardInput() = 0;
  // Closes and opens the device again (after it was unplugged).
  virtual absl::Status Reopen() = 0;
};

struct PortSettings {
  int baud = 115200;  // 8N1, no flow control
};

// A serial port or pseudo-terminal through termios (libserialport cannot
// open Linux pseudo-terminals). UNAVAILABLE naming the path when it cannot
// be opened.
absl::StatusOr<std::unique_ptr<Transport>> OpenFdTransport(const std::string& path,
                                                           const PortSettings& settings = {});

// A real serial port (USB-serial adapter, RS-232) through libserialport.
absl::StatusOr<std::unique_ptr<Transport>> OpenSerialPortTransport(
    const std::string& path, const PortSettings& settings = {});

// True when `path` (after symlinks) is a Linux pseudo-terminal (/dev/pts/N).
bool IsPseudoTerminal(const std::string& path);

// The right backend for `path`: termios for pseudo-terminals (photonsim),
// libserialport for everything else.
absl::StatusOr<std::unique_ptr<Transport>> OpenPort(const std::string& path,
                                                    const PortSettings& settings = {});

}  // namespace phc::drivers::serial
