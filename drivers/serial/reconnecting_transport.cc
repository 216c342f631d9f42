#include "phc/drivers/serial/reconnecting_transport.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace phc::drivers::serial {

ReconnectingTransport::ReconnectingTransport(std::unique_ptr<Transport> inner, std::string link,
                                             std::shared_ptr<LinkHealth> health,
                                             std::shared_ptr<Clock> clock, Backoff backoff)
    : inner_(std::move(inner)),
      link_(std::move(link)),
      health_(std::move(health)),
      clock_(std::move(clock)),
      limits_(backoff),
      backoff_(backoff.initial) {
  health_->Register(link_, [this] {
    if (!up_ && clock_->Now() >= next_attempt_) TryReconnect().IgnoreError();
  });
}

absl::Status ReconnectingTransport::Write(std::string_view bytes) {
  if (absl::Status s = EnsureUp(); !s.ok()) return s;
  absl::Status status = inner_->Write(bytes);
  Observe(status);
  return status;
}

absl::StatusOr<std::string> ReconnectingTransport::ReadLine(std::chrono::milliseconds timeout) {
  if (absl::Status s = EnsureUp(); !s.ok()) return s;
  absl::StatusOr<std::string> line = inner_->ReadLine(timeout);
  Observe(line.status());
  return line;
}

void ReconnectingTransport::DiscardInput() {
  if (up_) inner_->DiscardInput();
}

absl::Status ReconnectingTransport::Reopen() { return TryReconnect(); }

absl::Status ReconnectingTransport::EnsureUp() {
  if (up_) return absl::OkStatus();
  if (clock_->Now() >= next_attempt_) return TryReconnect();
  const auto wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - clock_->Now());
  return absl::UnavailableError(
      absl::StrCat(link_, " instrument (", inner_->name(), ") disconnected: ", last_error_,
                   "; next reconnection attempt in ", wait.count(), " ms"));
}

absl::Status ReconnectingTransport::TryReconnect() {
  absl::Status status = inner_->Reopen();
  if (status.ok()) {
    up_ = true;
    backoff_ = limits_.initial;
    health_->ReportRestored(link_);
    return status;
  }
  last_error_ = std::string(status.message());
  next_attempt_ = clock_->Now() + backoff_;
  const std::chrono::milliseconds waited = backoff_;
  backoff_ = std::min(backoff_ * 2, limits_.max);
  return absl::UnavailableError(absl::StrCat(link_, " instrument (", inner_->name(),
                                             ") disconnected; reconnection failed: ", last_error_,
                                             "; retrying in ", waited.count(), " ms"));
}

void ReconnectingTransport::Observe(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnavailable) return;
  up_ = false;
  last_error_ = std::string(status.message());
  backoff_ = limits_.initial;
  next_attempt_ = clock_->Now() + backoff_;
  health_->ReportLost(link_, status);
}

}  // namespace phc::drivers::serial
