// The time seam of the hardware stack. ChipController waits for thermal
// settling through it: a real chip needs real time to pass, a simulated chip
// needs its virtual clock advanced.
//
// Thread safety: called only from the hardware thread.
#pragma once

#include <chrono>
#include <thread>

namespace phc::drivers {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::nanoseconds Now() const = 0;
  // Returns once `duration` has passed on this clock.
  virtual void SleepFor(std::chrono::nanoseconds duration) = 0;
};

// Wall time, for real instruments.
class SteadyClock final : public Clock {
 public:
  std::chrono::nanoseconds Now() const override {
    return std::chrono::steady_clock::now().time_since_epoch();
  }
  void SleepFor(std::chrono::nanoseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
};

}  // namespace phc::drivers
