// One emulated instrument on a pseudo-terminal, with injectable faults:
// slow replies, garbage in place of replies, dropped replies, and an
// unplug that closes the pty (the client sees a hang-up) and, after a
// while, plugs the instrument back in on a new pty (as a USB device comes
// back under a new name; the --link symlink follows it).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "instrument_emulators.h"

namespace photonsim::emulators {

class PtyPort {
 public:
  using Clock = std::chrono::steady_clock;

  PtyPort(std::string role, std::unique_ptr<LineDevice> device, std::string link_dir)
      : role_(std::move(role)), device_(std::move(device)), link_dir_(std::move(link_dir)) {}
  ~PtyPort() { Close(); }
  PtyPort(const PtyPort&) = delete;
  PtyPort& operator=(const PtyPort&) = delete;

  // Opens a new pty (and points the link at it). False with errno set.
  bool Open();
  const std::string& role() const { return role_; }
  const std::string& path() const { return path_; }
  // -1 while unplugged.
  int fd() const { return master_; }

  // Reads what the client wrote and queues the replies.
  void Serve();
  // Writes the replies that are due; plugs back in when due. True when the
  // port was plugged back in (its path changed).
  bool Tick(Clock::time_point now);
  // The earliest time Tick has work to do, if any.
  std::chrono::milliseconds TimeToNextEvent(Clock::time_point now) const;

  // Faults.
  void set_delay(std::chrono::milliseconds delay) { delay_ = delay; }
  void GarbleNext(int replies) { garble_ += replies; }
  void DropNext(int replies) { drop_ += replies; }
  // Unplugged for `duration` (forever when zero: until Replug()).
  void Unplug(std::chrono::milliseconds duration);
  void Replug() { replug_at_ = Clock::time_point::min(); }

 private:
  struct Pending {
    Clock::time_point due;
    std::string bytes;
  };
  void Close();

  std::string role_;
  std::unique_ptr<LineDevice> device_;
  std::string link_dir_;
  int master_ = -1;
  int slave_ = -1;  // kept open so the pty survives client reconnects
  std::string path_;
  std::string input_;
  std::deque<Pending> output_;
  std::chrono::milliseconds delay_{0};
  int garble_ = 0;
  int drop_ = 0;
  bool unplugged_ = false;
  Clock::time_point replug_at_ = Clock::time_point::max();
};

}  // namespace photonsim::emulators
