// In-process transports for tests: a fake device answering each written
// line at once (no threads, no sleeps), and a wrapper that injects faults
// (dropped replies, garbage, timeouts, a disconnect) on a script.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {

class FakeTransport final : public Transport {
 public:
  // The device: the reply lines to one command line (without terminator).
  using Device = std::function<std::vector<std::string>(const std::string& line)>;
  explicit FakeTransport(Device device) : device_(std::move(device)) {}

  std::string name() const override { return "fake"; }
  absl::Status Write(std::string_view bytes) override;
  // Never waits: a reply is there or the read times out at once.
  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout) override;
  void DiscardInput() override { replies_.clear(); }
  absl::Status Reopen() override;

  void Unplug() { plugged_ = false; }
  void PlugIn() { plugged_ = true; }
  const std::vector<std::string>& written() const { return written_; }

 private:
  Device device_;
  std::string partial_;
  std::deque<std::string> replies_;
  std::vector<std::string> written_;
  bool plugged_ = true;
};

enum class Fault { kDropReply, kGarbage, kTimeout, kDisconnect };

// Applies the scripted faults to successive reads, one per read.
class FaultyTransport final : public Transport {
 public:
  explicit FaultyTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  void Inject(Fault fault) { faults_.push_back(fault); }

  std::string name() const override { return inner_->name(); }
  absl::Status Write(std::string_view bytes) override;
  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout) override;
  void DiscardInput() override { inner_->DiscardInput(); }
  absl::Status Reopen() override;

 private:
  std::unique_ptr<Transport> inner_;
  std::deque<Fault> faults_;
  bool disconnected_ = false;
};

}  // namespace phc::drivers::serial
