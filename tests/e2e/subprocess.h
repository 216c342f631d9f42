// Minimal child-process control for end-to-end tests: start a binary with
// its stdout/stderr on pipes, read lines with a deadline, signal, reap.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace phc::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  // Starts argv[0] with arguments argv[1..]. Aborts the test binary if fork
  // fails.
  explicit Subprocess(const std::vector<std::string>& argv);
  ~Subprocess();  // SIGKILLs and reaps a child still running

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Next full stdout (stderr) line, or nullopt on EOF or when the timeout
  // passes.
  std::optional<std::string> ReadStdoutLine(std::chrono::milliseconds timeout);
  std::optional<std::string> ReadStderrLine(std::chrono::milliseconds timeout);
  // Writes to the child's stdin (a pipe). False when the child closed it.
  bool WriteStdin(const std::string& text);
  void Signal(int signal_number);
  pid_t pid() const { return pid_; }
  // Waits for exit; returns the exit code (128 + signal if killed) and the
  // remaining stderr.
  CommandResult Wait();

 private:
  static std::optional<std::string> ReadLine(int fd, std::string& buffer,
                                             std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int stdin_fd_ = -1;
  std::string stdout_buffer_;
  std::string stderr_buffer_;
};

// Runs a command to completion and captures its output.
CommandResult RunCommand(const std::vector<std::string>& argv);

}  // namespace phc::testing
