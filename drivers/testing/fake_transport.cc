#include "phc/drivers/serial/fake_transport.h"

#include "absl/strings/str_cat.h"

namespace phc::drivers::serial {

absl::Status FakeTransport::Write(std::string_view bytes) {
  if (!plugged_) return absl::UnavailableError("fake: device unplugged");
  partial_.append(bytes);
  for (std::size_t end; (end = partial_.find('\n')) != std::string::npos;) {
    std::string line = partial_.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    partial_.erase(0, end + 1);
    written_.push_back(line);
    for (std::string& reply : device_(line)) replies_.push_back(std::move(reply));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeTransport::ReadLine(std::chrono::milliseconds timeout) {
  if (!plugged_) return absl::UnavailableError("fake: device unplugged");
  if (replies_.empty()) {
    return absl::DeadlineExceededError(
        absl::StrCat("fake: no reply within ", timeout.count(), " ms"));
  }
  std::string line = std::move(replies_.front());
  replies_.pop_front();
  return line;
}

absl::Status FakeTransport::Reopen() {
  if (!plugged_) return absl::UnavailableError("fake: device unplugged");
  partial_.clear();
  replies_.clear();
  return absl::OkStatus();
}

absl::Status FaultyTransport::Write(std::string_view bytes) {
  if (disconnected_) return absl::UnavailableError(absl::StrCat(name(), ": disconnected"));
  return inner_->Write(bytes);
}

absl::StatusOr<std::string> FaultyTransport::ReadLine(std::chrono::milliseconds timeout) {
  if (disconnected_) return absl::UnavailableError(absl::StrCat(name(), ": disconnected"));
  if (faults_.empty()) return inner_->ReadLine(timeout);
  const Fault fault = faults_.front();
  faults_.pop_front();
  switch (fault) {
    case Fault::kDropReply: {
      absl::StatusOr<std::string> lost = inner_->ReadLine(timeout);
      if (!lost.ok()) return lost;
      return absl::DeadlineExceededError(absl::StrCat(name(), ": reply dropped"));
    }
    case Fault::kGarbage:
      return std::string("\x7f#!?garbage\x01");
    case Fault::kTimeout:
      return absl::DeadlineExceededError(absl::StrCat(name(), ": no reply (injected)"));
    case Fault::kDisconnect:
      disconnected_ = true;
      return absl::UnavailableError(absl::StrCat(name(), ": disconnected (injected)"));
  }
  return inner_->ReadLine(timeout);
}

absl::Status FaultyTransport::Reopen() {
  disconnected_ = false;
  return inner_->Reopen();
}

}  // namespace phc::drivers::serial
