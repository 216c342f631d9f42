// The processes a soak run drives: photonsim (the chip behind serial
// instruments, and the hidden truth's heater audit) and photonicd daemons
// that are killed and restarted on the same state dir.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "subprocess.h"

namespace phc::soak {

// One photonsim `audit` line: what the heaters received since the last one,
// judged with the chip's hidden resistances.
struct HeaterAudit {
  long long writes = 0;
  double max_volts_v = 0;
  int max_volts_channel = -1;
  double max_current_ma = 0;
  int max_current_channel = -1;
  double max_total_power_mw = 0;
  double total_power_mw = 0;
  bool was_safe = false;
  // When every heater was last at 0 V (now, if they are), steady clock.
  std::chrono::steady_clock::time_point heaters_off_at;
};

// Parses "photonsim: audit writes=.. max_v=..@.. ..."; nullopt if malformed.
std::optional<HeaterAudit> ParseAudit(const std::string& line);

class Photonsim {
 public:
  // Starts photonsim on `chip_file`, symlinks in `link_dir`.
  Photonsim(const std::string& binary, const std::string& chip_file, std::uint64_t seed,
            const std::string& link_dir);
  // One control line; its answer ("photonsim: ok" or the error), with the
  // audit line for `audit`. Thread-safe (one line at a time).
  bool Command(const std::string& line, std::string* audit_line = nullptr);
  std::optional<HeaterAudit> Audit();
  bool ready() const { return ready_; }

 private:
  std::mutex mu_;
  testing::Subprocess process_;
  bool ready_ = false;
};

// A photonicd child on a Unix socket. Its stderr is drained by a thread
// (a full pipe would block the daemon's logging) and the last lines kept
// for the report.
class Daemon {
 public:
  Daemon(std::string name, std::string binary, std::filesystem::path config,
         std::filesystem::path socket);
  ~Daemon();

  // Starts it and waits for "listening on" (up to 60 s). False with the
  // reason in last_error(). REQUIRES: stopped.
  bool Start();
  // Sends `signal_number` and reaps; returns the exit code (128 + signal).
  // A daemon that has not exited within `grace` is SIGKILLed: -1.
  int Stop(int signal_number, std::chrono::seconds grace = std::chrono::seconds(30));
  bool running() const { return process_ != nullptr; }
  // Thread-safe; -1 while stopped.
  int pid() const { return pid_.load(); }
  // It exited without being stopped (a crash, a sanitizer abort). Stop()
  // reaps it. Thread-safe.
  bool dead() const { return dead_.load(); }
  // True once per unexpected exit. Thread-safe.
  bool TakeDeath() { return death_unreported_.exchange(false); }
  int restarts() const { return starts_ - 1; }
  const std::string& name() const { return name_; }
  const std::string& last_error() const { return last_error_; }
  // The channel survives restarts (gRPC reconnects; backoff capped at 1 s).
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // Stderr lines with "[critical]" or "[error]" since the start of the run.
  std::vector<std::string> ErrorLines() const;
  std::vector<std::string> LastLines() const;

 private:
  void Drain();

  std::string name_;
  std::string binary_;
  std::filesystem::path config_;
  std::filesystem::path socket_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<testing::Subprocess> process_;
  std::thread drain_;
  std::atomic<int> pid_{-1};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> dead_{false};
  std::atomic<bool> death_unreported_{false};
  int starts_ = 0;
  std::string last_error_;
  mutable std::mutex lines_mu_;
  std::condition_variable exited_cv_;
  bool stderr_closed_ = false;  // guarded by lines_mu_
  std::deque<std::string> last_lines_;
  std::vector<std::string> error_lines_;
};

// Resident set (kB) and open file descriptors of a process; -1 if gone.
struct ProcessFootprint {
  long rss_kb = -1;
  long open_fds = -1;
};
ProcessFootprint Footprint(int pid);

}  // namespace phc::soak
