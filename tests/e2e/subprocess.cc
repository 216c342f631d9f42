#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace phc::testing {
namespace {

// Reads both pipes until both reach EOF, so neither can fill and block the child.
void DrainBoth(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{.fd = out_fd, .events = POLLIN, .revents = 0},
                   {.fd = err_fd, .events = POLLIN, .revents = 0}};
  std::string* sinks[2] = {&out, &err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) return;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        sinks[i]->append(buffer, n);
      }
    }
  }
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Subprocess::Subprocess(const std::vector<std::string>& argv) {
  // Everything the child needs is built before fork: allocating after fork
  // in a multithreaded process is not safe.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(in_pipe, O_CLOEXEC) != 0) {
    std::abort();
  }
  pid_ = fork();
  if (pid_ < 0) std::abort();
  if (pid_ == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];
  stderr_fd_ = err_pipe[0];
}

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
  if (stdin_fd_ >= 0) close(stdin_fd_);
}

std::optional<std::string> Subprocess::ReadStdoutLine(std::chrono::milliseconds timeout) {
  return ReadLine(stdout_fd_, stdout_buffer_, timeout);
}

std::optional<std::string> Subprocess::ReadStderrLine(std::chrono::milliseconds timeout) {
  return ReadLine(stderr_fd_, stderr_buffer_, timeout);
}

bool Subprocess::WriteStdin(const std::string& text) {
  signal(SIGPIPE, SIG_IGN);  // a child that exited: an error, not a dead test
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(stdin_fd_, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> Subprocess::ReadLine(int fd, std::string& buffer,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (const std::size_t newline = buffer.find('\n'); newline != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char chunk[1024];
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return std::nullopt;
    buffer.append(chunk, n);
  }
}

void Subprocess::Signal(int signal_number) {
  if (pid_ > 0) kill(pid_, signal_number);
}

CommandResult Subprocess::Wait() {
  CommandResult result;
  result.out = stdout_buffer_;
  result.err = stderr_buffer_;
  DrainBoth(stdout_fd_, stderr_fd_, result.out, result.err);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  result.exit_code = DecodeWaitStatus(status);
  return result;
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  Subprocess process(argv);
  return process.Wait();
}

}  // namespace phc::testing
