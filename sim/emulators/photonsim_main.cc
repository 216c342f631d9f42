// photonsim: a simulated photonic chip behind serial instruments on
// pseudo-terminals, for photonicd's serial backend.
//
//   photonsim --chip deploy/chips/clements8.textproto --seed 1 [--link DIR]
//
// Prints one line per instrument, "photonsim: <role> <device path>", then
// "photonsim: ready", and serves until SIGTERM/SIGINT or end of input.
// Roles: heaters (Qontrol-compatible chain), modulators (Qontrol-compatible
// DAC), adc (SCPI photocurrent ADC), tec (SCPI TEC). --link DIR keeps
// symlinks DIR/<role> pointing at the devices (also after a replug).
//
// Faults, from the command line (every instrument) or as lines on stdin
// (one instrument; each answered "photonsim: ok" or "photonsim: error ..."):
//   delay <role> <ms>        replies arrive <ms> late
//   garbage <role> <n>       the next n replies are garbage
//   drop <role> <n>          the next n replies are lost
//   unplug <role> [<ms>]     the device disappears (for <ms>, else until plug)
//   plug <role>              it comes back, on a new pty ("photonsim: <role> <path>")
//   jump tec <ms>            the chip's clock (TEC loop, drift, settling) jumps by <ms>
//                            (negative: it stands still that long)
// and one query line:
//   audit                    "photonsim: audit writes=<n> max_v=<V>@<ch> max_ma=<mA>@<ch>
//                            max_total_mw=<mW> total_mw=<mW> was_safe=<0|1> off_ns=<t>":
//                            what the heaters received since the last audit, with
//                            the hidden resistances (the check from outside the
//                            daemon); off_ns: when every heater was last at 0 V
//                            (now if they are), on the steady clock in ns
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "google/protobuf/text_format.h"
#include "instrument_emulators.h"
#include "pty_port.h"

namespace {

using photonsim::emulators::PtyPort;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

std::string AuditLine(photonsim::SimChip& chip, const photonsim::emulators::WallTime& time) {
  const photonsim::SimChip::HeaterAudit audit = chip.TakeHeaterAudit();
  const auto off_at = std::chrono::duration_cast<std::chrono::nanoseconds>(
      (chip.heaters_off() ? std::chrono::steady_clock::now() : time.heaters_off_at())
          .time_since_epoch());
  char line[320];
  std::snprintf(line, sizeof line,
                "photonsim: audit writes=%lld max_v=%.6f@%d max_ma=%.6f@%d max_total_mw=%.6f "
                "total_mw=%.6f was_safe=%d off_ns=%lld",
                static_cast<long long>(audit.writes), audit.max_volts_v, audit.max_volts_channel,
                audit.max_current_ma, audit.max_current_channel, audit.max_total_power_mw,
                audit.total_power_mw, audit.was_safe ? 1 : 0,
                static_cast<long long>(off_at.count()));
  return line;
}

// One control line; false with a message when it is not understood.
bool Control(const std::string& line, std::vector<std::unique_ptr<PtyPort>>& ports,
             photonsim::SimChip& chip, photonsim::emulators::WallTime& time, std::string& error) {
  std::istringstream in(line);
  std::string verb, role;
  long long value = 0;
  in >> verb >> role;
  const bool has_value = static_cast<bool>(in >> value);
  if (verb == "audit" && role.empty()) {
    std::printf("%s\n", AuditLine(chip, time).c_str());
    return true;
  }
  if (verb == "jump" && role == "tec" && has_value) {
    time.Jump(std::chrono::milliseconds(value));
    return true;
  }
  PtyPort* port = nullptr;
  for (auto& p : ports) {
    if (p->role() == role) port = p.get();
  }
  if (port == nullptr) {
    error = "unknown instrument \"" + role + "\" (heaters, modulators, adc, tec)";
    return false;
  }
  if (verb == "delay" && has_value && value >= 0) {
    port->set_delay(std::chrono::milliseconds(value));
  } else if (verb == "garbage" && has_value && value > 0) {
    port->GarbleNext(static_cast<int>(value));
  } else if (verb == "drop" && has_value && value > 0) {
    port->DropNext(static_cast<int>(value));
  } else if (verb == "unplug") {
    port->Unplug(std::chrono::milliseconds(has_value ? value : 0));
  } else if (verb == "plug") {
    port->Replug();
  } else {
    error = "cannot parse \"" + line +
            "\" (delay|garbage|drop <role> <n>, unplug <role> [ms], "
            "plug <role>, jump tec <ms>, audit)";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"photonsim: a simulated photonic chip behind serial instruments on ptys"};
  std::string chip_path, link_dir;
  std::uint64_t seed = 1;
  int delay_ms = 0;
  app.add_option("--chip", chip_path, "ChipDescription text file")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--seed", seed, "hidden chip and noise seed")->capture_default_str();
  app.add_option("--link", link_dir, "keep symlinks DIR/<role> to each device");
  app.add_option("--delay-ms", delay_ms, "every reply arrives this late")
      ->check(CLI::Range(0, 60000));
  CLI11_PARSE(app, argc, argv);

  std::ifstream file(chip_path);
  std::stringstream text;
  text << file.rdbuf();
  photonic::v1::ChipDescription description;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &description)) {
    std::fprintf(stderr, "photonsim: %s: not a ChipDescription\n", chip_path.c_str());
    return 2;
  }
  auto chip = photonsim::SimChip::Create(description, seed);
  if (!chip.ok()) {
    std::fprintf(stderr, "photonsim: %s\n", chip.status().ToString().c_str());
    return 2;
  }
  namespace emu = photonsim::emulators;
  emu::WallTime time(**chip);
  std::vector<std::unique_ptr<PtyPort>> ports;
  ports.push_back(
      std::make_unique<PtyPort>("heaters",
                                emu::MakeQontrolChain(**chip, time, emu::QontrolRole::kHeaters,
                                                      description.heater().max_voltage_v()),
                                link_dir));
  ports.push_back(
      std::make_unique<PtyPort>("modulators",
                                emu::MakeQontrolChain(**chip, time, emu::QontrolRole::kModulators,
                                                      description.modulator().max_voltage_v()),
                                link_dir));
  ports.push_back(std::make_unique<PtyPort>("adc", emu::MakeScpiAdc(**chip, time), link_dir));
  ports.push_back(std::make_unique<PtyPort>("tec", emu::MakeScpiTec(**chip, time), link_dir));
  for (auto& port : ports) {
    if (!port->Open()) {
      std::perror("photonsim: openpty");
      return 1;
    }
    port->set_delay(std::chrono::milliseconds(delay_ms));
    std::printf("photonsim: %s %s\n", port->role().c_str(), port->path().c_str());
  }
  std::printf("photonsim: ready\n");
  std::fflush(stdout);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  std::string control;
  bool stdin_open = true;
  std::vector<pollfd> fds;
  while (!g_stop) {
    const auto now = PtyPort::Clock::now();
    std::chrono::milliseconds wait(200);
    fds.clear();
    for (auto& port : ports) {
      wait = std::min(wait, port->TimeToNextEvent(now));
      fds.push_back({port->fd(), POLLIN, 0});  // fd -1 is ignored by poll
    }
    fds.push_back({stdin_open ? STDIN_FILENO : -1, POLLIN, 0});
    ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    for (std::size_t i = 0; i < ports.size(); ++i) {
      if (fds[i].revents & POLLIN) ports[i]->Serve();
    }
    if (fds.back().revents & (POLLIN | POLLHUP)) {
      char chunk[512];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n <= 0) {
        stdin_open = false;  // no more control lines; keep serving
      } else {
        control.append(chunk, static_cast<std::size_t>(n));
      }
      for (std::size_t end; (end = control.find('\n')) != std::string::npos;) {
        const std::string line = control.substr(0, end);
        control.erase(0, end + 1);
        std::string error;
        if (Control(line, ports, **chip, time, error)) {
          std::printf("photonsim: ok\n");
        } else {
          std::printf("photonsim: error %s\n", error.c_str());
        }
      }
      std::fflush(stdout);
    }
    const auto after = PtyPort::Clock::now();
    for (auto& port : ports) {
      if (port->Tick(after)) {
        std::printf("photonsim: %s %s\n", port->role().c_str(), port->path().c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
