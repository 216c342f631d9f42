// A drivers::Clock that moves only when something sleeps on it: tests of
// settling, backoffs and energy step time without waiting for it.
#pragma once

#include <chrono>

#include "phc/drivers/clock.h"

namespace phc::testing {

class ManualClock final : public drivers::Clock {
 public:
  std::chrono::nanoseconds Now() const override { return now_; }
  void SleepFor(std::chrono::nanoseconds duration) override { now_ += duration; }

 private:
  std::chrono::nanoseconds now_{0};
};

}  // namespace phc::testing
