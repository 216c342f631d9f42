// Assembles reply lines from the bytes a port delivers: shared by the
// transports that read raw bytes (termios, libserialport).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace phc::drivers::serial {

class LineBuffer {
 public:
  static constexpr std::size_t kMaxLine = 4096;

  // False when the pending partial line grew past kMaxLine (it is dropped).
  bool Append(std::string_view bytes) {
    buffer_.append(bytes);
    if (buffer_.size() <= kMaxLine || buffer_.find_first_of("\r\n") != std::string::npos) {
      return true;
    }
    buffer_.clear();
    return false;
  }

  // The next complete line without its terminator ("\n", "\r\n" or "\r").
  std::optional<std::string> TakeLine() {
    const std::size_t end = buffer_.find_first_of("\r\n");
    if (end == std::string::npos) return std::nullopt;
    std::string line = buffer_.substr(0, end);
    std::size_t next = end + 1;
    if (buffer_[end] == '\r' && next < buffer_.size() && buffer_[next] == '\n') ++next;
    buffer_.erase(0, next);
    return line;
  }

  void Clear() { buffer_.clear(); }

 private:
  std::string buffer_;
};

}  // namespace phc::drivers::serial
