#include "pty_port.h"

#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace photonsim::emulators {

bool PtyPort::Open() {
  char name[256];
  if (::openpty(&master_, &slave_, name, nullptr, nullptr) != 0) return false;
  termios tio{};
  ::tcgetattr(slave_, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(slave_, TCSANOW, &tio);
  ::fcntl(master_, F_SETFL, O_NONBLOCK);
  path_ = name;
  unplugged_ = false;
  input_.clear();
  if (!link_dir_.empty()) {
    const std::filesystem::path link = std::filesystem::path(link_dir_) / role_;
    const std::filesystem::path staged = link.string() + ".new";
    std::error_code ignored;
    std::filesystem::remove(staged, ignored);
    std::filesystem::create_symlink(path_, staged, ignored);
    std::filesystem::rename(staged, link, ignored);  // atomic: never a missing link
  }
  return true;
}

void PtyPort::Close() {
  if (master_ >= 0) ::close(master_);
  if (slave_ >= 0) ::close(slave_);
  master_ = slave_ = -1;
}

void PtyPort::Unplug(std::chrono::milliseconds duration) {
  Close();
  output_.clear();
  unplugged_ = true;
  replug_at_ = duration.count() > 0 ? Clock::now() + duration : Clock::time_point::max();
  if (!link_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(std::filesystem::path(link_dir_) / role_, ignored);
  }
}

void PtyPort::Serve() {
  if (master_ < 0) return;
  char chunk[4096];
  const ssize_t n = ::read(master_, chunk, sizeof chunk);
  if (n <= 0) return;
  input_.append(chunk, static_cast<std::size_t>(n));
  for (std::size_t end; (end = input_.find_first_of("\r\n")) != std::string::npos;) {
    std::string line = input_.substr(0, end);
    input_.erase(0, end + 1);
    if (line.empty()) continue;
    std::string out;
    for (const std::string& reply : device_->Answer(line)) {
      if (drop_ > 0) {
        --drop_;
        continue;
      }
      if (garble_ > 0) {
        --garble_;
        out += "\x7f#!?%garbage\x01\n";
        continue;
      }
      out += reply + "\n";
    }
    if (!out.empty()) output_.push_back({Clock::now() + delay_, std::move(out)});
  }
  if (input_.size() > 65536) input_.clear();
}

bool PtyPort::Tick(Clock::time_point now) {
  if (unplugged_) {
    if (now < replug_at_) return false;
    replug_at_ = Clock::time_point::max();
    return Open();
  }
  while (!output_.empty() && output_.front().due <= now && master_ >= 0) {
    const std::string& bytes = output_.front().bytes;
    for (std::size_t done = 0; done < bytes.size();) {
      const ssize_t w = ::write(master_, bytes.data() + done, bytes.size() - done);
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
    output_.pop_front();
  }
  return false;
}

std::chrono::milliseconds PtyPort::TimeToNextEvent(Clock::time_point now) const {
  Clock::time_point next = Clock::time_point::max();
  if (unplugged_) next = replug_at_;
  if (!output_.empty()) next = std::min(next, output_.front().due);
  if (next == Clock::time_point::max()) return std::chrono::milliseconds(200);
  return std::clamp(std::chrono::ceil<std::chrono::milliseconds>(next - now),
                    std::chrono::milliseconds(0), std::chrono::milliseconds(200));
}

}  // namespace photonsim::emulators
