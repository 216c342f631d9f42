// The power budget a daemon may be holding the chip to, as the soak run
// knows it from outside: what it set (SetPowerBudget), and the chip
// description's budget after every restart. The heater audit of a window
// is judged against the highest budget that was in force at any moment of
// it: a raise counts from the moment it is sent (the daemon may apply it
// before the reply arrives), a lowering from its reply. The clients send one
// SetPowerBudget at a time (Serialise()), so replies come in the order the
// daemon applied the changes.
#pragma once

#include <algorithm>
#include <mutex>

namespace phc::soak {

class BudgetTracker {
 public:
  explicit BudgetTracker(double initial_mw) : current_(initial_mw), window_max_(initial_mw) {}

  // Held by a client from before Sending() to after Settled().
  std::mutex& Serialise() { return serial_mu_; }
  // Before sending SetPowerBudget(mw); then Settled() with the outcome.
  void Sending(double mw) {
    std::lock_guard lock(mu_);
    ++pending_;
    pending_max_ = std::max(pending_max_, mw);
    window_max_ = std::max(window_max_, mw);
  }
  void Settled(double mw, bool applied) {
    std::lock_guard lock(mu_);
    if (applied) current_ = mw;
    if (--pending_ == 0) pending_max_ = 0;
    window_max_ = std::max(window_max_, current_);
  }
  // A restart puts the description's budget back.
  void Restarted(double description_mw) {
    std::lock_guard lock(mu_);
    current_ = description_mw;
    window_max_ = std::max(window_max_, current_);
  }
  // The highest budget of the window begun so far.
  double Peek() {
    std::lock_guard lock(mu_);
    return window_max_;
  }
  // The highest budget of the window now ending; starts the next.
  double EndWindow() {
    std::lock_guard lock(mu_);
    const double allowed = window_max_;
    window_max_ = std::max(current_, pending_max_);
    return allowed;
  }

 private:
  std::mutex serial_mu_;
  std::mutex mu_;
  double current_;
  double window_max_;
  int pending_ = 0;
  double pending_max_ = 0;
};

}  // namespace phc::soak
