// Which instrument links of a DriverSet are up, and reconnection of the
// lost ones. The serial backend registers one Link per instrument; the
// in-process simulator has none (its links cannot be lost).
//
// Thread safety: Register/Reconnect run on the hardware thread (they touch
// transports); AllUp/Describe/restorations and the listener may be read or
// called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "phc/base/mutex.h"

namespace phc::drivers {

class LinkHealth {
 public:
  // Attempts one reconnection of a lost link if its backoff has elapsed.
  using Reconnector = std::function<void()>;
  // Called with the new overall state whenever it changes.
  using Listener = std::function<void(bool all_up, const std::string& description)>;

  void Register(const std::string& link, Reconnector reconnect);
  void Unregister(const std::string& link);
  void SetListener(Listener listener);

  void ReportLost(const std::string& link, const absl::Status& why);
  void ReportRestored(const std::string& link);

  // Gives every lost link one chance to reconnect (hardware thread).
  void Reconnect();

  bool AllUp() const;
  // Every registered (or lost) link: true while it is up.
  std::map<std::string, bool> LinkStates() const;
  // "all instrument links up", or one "<link>: lost (<why>)" per lost link.
  std::string Describe() const;
  // How many times a lost link came back: the hardware state behind it is
  // then unknown and must be driven to a known one.
  std::uint64_t restorations() const;

 private:
  void Notify() ABSL_LOCKS_EXCLUDED(mutex_);

  mutable phc::base::Mutex mutex_;
  std::map<std::string, std::string> lost_ ABSL_GUARDED_BY(mutex_);  // link -> why
  std::map<std::string, Reconnector> reconnectors_ ABSL_GUARDED_BY(mutex_);
  std::uint64_t restorations_ ABSL_GUARDED_BY(mutex_) = 0;
  Listener listener_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace phc::drivers
