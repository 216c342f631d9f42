#include "phc/drivers/link_health.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace phc::drivers {

void LinkHealth::Register(const std::string& link, Reconnector reconnect) {
  phc::base::MutexLock lock(&mutex_);
  reconnectors_[link] = std::move(reconnect);
}

void LinkHealth::Unregister(const std::string& link) {
  phc::base::MutexLock lock(&mutex_);
  reconnectors_.erase(link);
}

void LinkHealth::SetListener(Listener listener) {
  phc::base::MutexLock lock(&mutex_);
  listener_ = std::move(listener);
}

void LinkHealth::ReportLost(const std::string& link, const absl::Status& why) {
  {
    phc::base::MutexLock lock(&mutex_);
    const bool was_up = lost_.empty();
    const bool known = lost_.contains(link);
    lost_[link] = std::string(why.message());
    if (known || !was_up) return;  // overall state unchanged
  }
  Notify();
}

void LinkHealth::ReportRestored(const std::string& link) {
  {
    phc::base::MutexLock lock(&mutex_);
    if (lost_.erase(link) == 0) return;
    ++restorations_;
    if (!lost_.empty()) return;
  }
  Notify();
}

void LinkHealth::Reconnect() {
  std::vector<Reconnector> due;
  {
    phc::base::MutexLock lock(&mutex_);
    for (const auto& [link, why] : lost_) {
      if (auto it = reconnectors_.find(link); it != reconnectors_.end()) due.push_back(it->second);
    }
  }
  for (const Reconnector& reconnect : due) reconnect();
}

bool LinkHealth::AllUp() const {
  phc::base::MutexLock lock(&mutex_);
  return lost_.empty();
}

std::map<std::string, bool> LinkHealth::LinkStates() const {
  phc::base::MutexLock lock(&mutex_);
  std::map<std::string, bool> states;
  for (const auto& [link, reconnect] : reconnectors_) states[link] = !lost_.contains(link);
  for (const auto& [link, why] : lost_) states[link] = false;
  return states;
}

std::string LinkHealth::Describe() const {
  phc::base::MutexLock lock(&mutex_);
  if (lost_.empty()) return "all instrument links up";
  std::vector<std::string> parts;
  for (const auto& [link, why] : lost_) parts.push_back(absl::StrCat(link, ": lost (", why, ")"));
  return absl::StrJoin(parts, "; ");
}

std::uint64_t LinkHealth::restorations() const {
  phc::base::MutexLock lock(&mutex_);
  return restorations_;
}

void LinkHealth::Notify() {
  Listener listener;
  {
    phc::base::MutexLock lock(&mutex_);
    listener = listener_;
  }
  if (listener) listener(AllUp(), Describe());
}

}  // namespace phc::drivers
