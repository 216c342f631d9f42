// Serial instruments emulated on a SimChip, answering the same protocols
// the daemon's serial drivers speak: a Qontrol-compatible chain (heaters, or
// the modulator DAC), a SCPI photocurrent ADC and a SCPI TEC. Each answers
// one command line with its reply lines. The chip's clock follows the wall
// clock (advanced before every command), as a real chip's physics does.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "photonsim/sim_chip.h"

namespace photonsim::emulators {

class LineDevice {
 public:
  virtual ~LineDevice() = default;
  virtual std::vector<std::string> Answer(const std::string& line) = 0;
};

// Keeps the SimChip's virtual time at the wall time since start.
class WallTime {
 public:
  explicit WallTime(SimChip& chip) : chip_(chip), start_(std::chrono::steady_clock::now()) {}
  void Sync();
  // The chip's clock jumps by `dt` (forward: that much time passes at once;
  // backward: the chip's time stands still until the wall clock catches up).
  void Jump(std::chrono::nanoseconds dt) { start_ -= dt; }
  // When the heaters were last all at 0 V, on the machine's steady clock
  // (comparable across processes): set by the heater chain after each write.
  void MarkHeatersOff() { heaters_off_at_ = std::chrono::steady_clock::now(); }
  std::chrono::steady_clock::time_point heaters_off_at() const { return heaters_off_at_; }

 private:
  SimChip& chip_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point heaters_off_at_ = start_;
};

enum class QontrolRole { kHeaters, kModulators };

// Writes outside [0, VMAX] are refused (E11 below 0, E01 above); a modulator
// chain on a chip with bipolar modulators takes [-VMAX, VMAX] (E01 beyond).

std::unique_ptr<LineDevice> MakeQontrolChain(SimChip& chip, WallTime& time, QontrolRole role,
                                             double max_voltage_v);
std::unique_ptr<LineDevice> MakeScpiAdc(SimChip& chip, WallTime& time);
std::unique_ptr<LineDevice> MakeScpiTec(SimChip& chip, WallTime& time);

}  // namespace photonsim::emulators
