#include "soak_processes.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace phc::soak {

std::optional<HeaterAudit> ParseAudit(const std::string& line) {
  HeaterAudit a;
  int safe = 0;
  long long off_ns = 0;
  const int n =
      std::sscanf(line.c_str(),
                  "photonsim: audit writes=%lld max_v=%lf@%d max_ma=%lf@%d "
                  "max_total_mw=%lf total_mw=%lf was_safe=%d off_ns=%lld",
                  &a.writes, &a.max_volts_v, &a.max_volts_channel, &a.max_current_ma,
                  &a.max_current_channel, &a.max_total_power_mw, &a.total_power_mw, &safe, &off_ns);
  if (n != 9) return std::nullopt;
  a.was_safe = safe != 0;
  a.heaters_off_at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(off_ns));
  return a;
}

Photonsim::Photonsim(const std::string& binary, const std::string& chip_file, std::uint64_t seed,
                     const std::string& link_dir)
    : process_({binary, "--chip", chip_file, "--seed", std::to_string(seed), "--link", link_dir}) {
  for (int line = 0; line < 6; ++line) {
    std::optional<std::string> text = process_.ReadStdoutLine(std::chrono::seconds(20));
    if (!text.has_value()) return;
    if (*text == "photonsim: ready") {
      ready_ = true;
      return;
    }
  }
}

bool Photonsim::Command(const std::string& line, std::string* audit_line) {
  std::lock_guard lock(mu_);
  if (!process_.WriteStdin(line + "\n")) return false;
  for (;;) {
    std::optional<std::string> reply = process_.ReadStdoutLine(std::chrono::seconds(10));
    if (!reply.has_value()) return false;
    if (reply->starts_with("photonsim: ok")) return true;
    if (reply->starts_with("photonsim: error")) return false;
    if (audit_line != nullptr && reply->starts_with("photonsim: audit ")) *audit_line = *reply;
    // Anything else is a replug announcement ("photonsim: <role> <path>").
  }
}

std::optional<HeaterAudit> Photonsim::Audit() {
  std::string line;
  if (!Command("audit", &line)) return std::nullopt;
  return ParseAudit(line);
}

Daemon::Daemon(std::string name, std::string binary, std::filesystem::path config,
               std::filesystem::path socket)
    : name_(std::move(name)),
      binary_(std::move(binary)),
      config_(std::move(config)),
      socket_(std::move(socket)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel("unix:" + socket_.string(),
                                       grpc::InsecureChannelCredentials(), args);
}

Daemon::~Daemon() {
  if (running()) Stop(SIGKILL);
}

bool Daemon::Start() {
  process_ = std::make_unique<testing::Subprocess>(std::vector<std::string>{
      binary_, "--config", config_.string(), "--listen", "unix:" + socket_.string()});
  ++starts_;
  const std::optional<std::string> line = process_->ReadStdoutLine(std::chrono::seconds(60));
  if (!line.has_value() || !line->starts_with("photonicd: listening on ")) {
    process_->Signal(SIGKILL);
    last_error_ = name_ + " did not start: " + process_->Wait().err;
    process_.reset();
    return false;
  }
  pid_ = process_->pid();
  drain_ = std::thread([this] { Drain(); });
  return true;
}

void Daemon::Drain() {
  for (;;) {
    std::optional<std::string> line = process_->ReadStderrLine(std::chrono::hours(24));
    std::lock_guard lock(lines_mu_);
    if (!line.has_value()) {  // EOF: the daemon has exited
      if (!stopping_.load()) {
        dead_ = true;
        death_unreported_ = true;
      }
      stderr_closed_ = true;
      exited_cv_.notify_all();
      return;
    }
    if (line->find("[critical]") != std::string::npos ||
        line->find("[error]") != std::string::npos) {
      if (error_lines_.size() < 5000) error_lines_.push_back(*line);
    }
    last_lines_.push_back(std::move(*line));
    if (last_lines_.size() > 50) last_lines_.pop_front();
  }
}

namespace {

// A daemon that does not stop in time: every thread's stack on stderr (with
// gdb, where it is installed), so the hang can be read from the run's log.
void DumpStacks(int pid) {
  if (pid <= 0 || std::system("command -v gdb > /dev/null 2>&1") != 0) return;
  std::fprintf(stderr, "soak: pid %d did not stop in time; its threads:\n", pid);
  const std::string command =
      "gdb -p " + std::to_string(pid) + " -batch -nx -ex 'thread apply all bt 30' 1>&2 2>/dev/null";
  if (std::system(command.c_str()) != 0) std::fprintf(stderr, "soak: gdb failed\n");
}

}  // namespace

int Daemon::Stop(int signal_number, std::chrono::seconds grace) {
  if (!running()) return -1;
  pid_ = -1;
  stopping_ = true;
  process_->Signal(signal_number);
  bool exited = false;
  {
    std::unique_lock lock(lines_mu_);
    exited = exited_cv_.wait_for(lock, grace, [&] { return stderr_closed_; });
  }
  if (!exited) {
    DumpStacks(process_->pid());
    process_->Signal(SIGKILL);
  }
  if (drain_.joinable()) drain_.join();
  const int code = process_->Wait().exit_code;
  process_.reset();
  stderr_closed_ = false;
  stopping_ = false;
  dead_ = false;
  return exited ? code : -1;
}

std::vector<std::string> Daemon::ErrorLines() const {
  std::lock_guard lock(lines_mu_);
  return error_lines_;
}

std::vector<std::string> Daemon::LastLines() const {
  std::lock_guard lock(lines_mu_);
  return {last_lines_.begin(), last_lines_.end()};
}

ProcessFootprint Footprint(int pid) {
  ProcessFootprint f;
  if (pid <= 0) return f;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream status(proc + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) f.rss_kb = std::stol(line.substr(6));
  }
  std::error_code error;
  long fds = 0;
  for (auto it = std::filesystem::directory_iterator(proc + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++fds;
  }
  if (!error) f.open_fds = fds;
  return f;
}

}  // namespace phc::soak
