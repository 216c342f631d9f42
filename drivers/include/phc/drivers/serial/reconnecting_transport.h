// A Transport that survives its device being unplugged: the first
// UNAVAILABLE marks the link lost (reported to LinkHealth); from then on
// every call fails at once with UNAVAILABLE naming the instrument, until a
// reconnection attempt (on the next call or LinkHealth::Reconnect(), no
// sooner than the backoff allows: initial, doubling up to max) reopens it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "phc/drivers/clock.h"
#include "phc/drivers/link_health.h"
#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {

struct Backoff {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5000};
};

class ReconnectingTransport final : public Transport {
 public:
  // Registers itself with `health` under `link` (e.g. "heaters").
  ReconnectingTransport(std::unique_ptr<Transport> inner, std::string link,
                        std::shared_ptr<LinkHealth> health, std::shared_ptr<Clock> clock,
                        Backoff backoff = {});
  ~ReconnectingTransport() override { health_->Unregister(link_); }
  ReconnectingTransport(const ReconnectingTransport&) = delete;
  ReconnectingTransport& operator=(const ReconnectingTransport&) = delete;

  std::string name() const override { return inner_->name(); }
  absl::Status Write(std::string_view bytes) override;
  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout) override;
  void DiscardInput() override;
  absl::Status Reopen() override;

  bool up() const { return up_; }
  // The wait before the next reconnection attempt.
  std::chrono::milliseconds backoff() const { return backoff_; }

 private:
  // OK when up (reconnecting first if due), else UNAVAILABLE.
  absl::Status EnsureUp();
  absl::Status TryReconnect();
  // Marks the link lost when `status` says the device is gone.
  void Observe(const absl::Status& status);

  std::unique_ptr<Transport> inner_;
  const std::string link_;
  std::shared_ptr<LinkHealth> health_;
  std::shared_ptr<Clock> clock_;
  const Backoff limits_;
  bool up_ = true;
  std::chrono::milliseconds backoff_;
  std::chrono::nanoseconds next_attempt_{0};
  std::string last_error_;
};

}  // namespace phc::drivers::serial
