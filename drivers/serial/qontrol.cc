#include "phc/drivers/serial/qontrol.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "reply_parsing.h"

namespace phc::drivers::serial {
namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool ParseInt(std::string_view text, int& out) {
  if (text.empty() || text.size() > 6) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool Retryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kResourceExhausted ||
         status.code() == absl::StatusCode::kDataLoss;
}

}  // namespace

std::optional<QontrolError> ParseQontrolError(std::string_view line) {
  if (line.size() < 2 || line[0] != 'E') return std::nullopt;
  line.remove_prefix(1);
  const std::size_t colon = line.find(':');
  QontrolError error;
  if (!ParseInt(line.substr(0, colon), error.code) || error.code < 0) return std::nullopt;
  if (colon != std::string_view::npos &&
      (!ParseInt(line.substr(colon + 1), error.channel) || error.channel < 0)) {
    return std::nullopt;
  }
  return error;
}

absl::Status QontrolErrorStatus(const QontrolError& e) {
  const std::string where = absl::StrCat(" (device error E", e.code < 10 ? "0" : "", e.code,
                                         " on channel ", e.channel, ")");
  switch (e.code) {
    case 1:
      return absl::OutOfRangeError(absl::StrCat("over-voltage", where));
    case 2:
      return absl::OutOfRangeError(absl::StrCat("over-current", where));
    case 3:
      return absl::OutOfRangeError(absl::StrCat("over power", where));
    case 10:
      return absl::InternalError(absl::StrCat("unknown command", where));
    case 11:
      return absl::InvalidArgumentError(absl::StrCat("bad parameter", where));
    case 12:
      return absl::InvalidArgumentError(absl::StrCat("bad channel", where));
    case 14:
      return absl::ResourceExhaustedError(absl::StrCat("input buffer overflow", where));
    case 15:
      return absl::UnavailableError(absl::StrCat("communication error", where));
    case 16:
      return absl::DeadlineExceededError(absl::StrCat("device timeout", where));
    default:
      return absl::UnknownError(absl::StrCat("unknown error code", where));
  }
}

absl::StatusOr<double> ParseQontrolValue(std::string_view line, std::string_view unit) {
  std::string_view text = Trim(line);
  if (unit.empty() || !text.ends_with(unit)) return Malformed(unit, line);
  text = Trim(text.substr(0, text.size() - unit.size()));
  if (text.empty() || (text[0] != '+' && text[0] != '-') || text.size() > 24) {
    return Malformed(unit, line);
  }
  const bool negative = text[0] == '-';
  text.remove_prefix(1);
  double value = 0.0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return Malformed(unit, line);
  }
  return negative ? -value : value;
}

absl::StatusOr<std::vector<double>> ParseQontrolValues(std::string_view line,
                                                       std::string_view unit) {
  std::vector<double> values;
  for (std::string_view part : Split(line, ',')) {
    absl::StatusOr<double> v = ParseQontrolValue(part, unit);
    if (!v.ok()) return v.status();
    values.push_back(*v);
    if (values.size() > 4096) return Malformed("VALL?", line);
  }
  return values;
}

absl::StatusOr<int> ParseQontrolModule(std::string_view line) {
  const std::vector<std::string_view> parts = Split(line, ':');
  int index = 0, channels = 0;
  if (parts.size() != 3 || !ParseInt(parts[0], index) || parts[1].empty() ||
      !ParseInt(parts[2], channels) || index < 0 || channels < 1 || channels > 64) {
    return Malformed("NUPALL?", line);
  }
  return channels;
}

absl::StatusOr<std::unique_ptr<QontrolHeaterDriver>> QontrolHeaterDriver::Connect(
    std::unique_ptr<Transport> transport, const QontrolOptions& options) {
  std::unique_ptr<QontrolHeaterDriver> driver(
      new QontrolHeaterDriver(std::move(transport), options));
  transport = nullptr;
  absl::StatusOr<std::string> id = driver->Command("ID?");
  if (!id.ok()) return id.status();
  driver->identity_ = *id;
  if (absl::Status s = driver->transport_->Write("NUPALL?\n"); !s.ok()) return s;
  for (int lines = 0;; ++lines) {
    absl::StatusOr<std::string> line = driver->transport_->ReadLine(options.timeout);
    if (!line.ok()) return line.status();
    if (*line == "OK") break;
    if (std::optional<QontrolError> e = ParseQontrolError(*line)) return QontrolErrorStatus(*e);
    absl::StatusOr<int> channels = ParseQontrolModule(*line);
    if (!channels.ok()) return channels.status();
    driver->channels_ += *channels;
    if (lines > 256) return absl::DataLossError("NUPALL? reply does not end");
  }
  if (driver->channels_ == 0) return absl::NotFoundError("no Qontrol modules in the chain");
  return driver;
}

absl::StatusOr<std::string> QontrolHeaterDriver::Command(const std::string& command) {
  absl::Status last;
  transport_->DiscardInput();  // a reply that came too late for its command is stale
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (absl::Status s = transport_->Write(absl::StrCat(command, "\n")); !s.ok()) return s;
    absl::StatusOr<std::string> reply = transport_->ReadLine(options_.timeout);
    if (reply.ok()) {
      if (std::optional<QontrolError> e = ParseQontrolError(*reply)) {
        last = QontrolErrorStatus(*e);
      } else if (!reply->empty() && std::all_of(reply->begin(), reply->end(),
                                                [](char c) { return c >= 0x20 && c <= 0x7e; })) {
        return reply;
      } else {
        last = Malformed(command, *reply);
      }
    } else {
      last = reply.status();
    }
    if (!Retryable(last)) return last;
    transport_->DiscardInput();  // a late reply must not answer the retry
  }
  return absl::Status(last.code(), absl::StrCat(command, ": ", last.message(), " after ",
                                                options_.retries + 1, " attempts"));
}

absl::Status QontrolHeaterDriver::CheckChannel(int channel) const {
  if (channel < 0 || channel >= channels_) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel ", channel, " is not in the chain's 0..", channels_ - 1));
  }
  return absl::OkStatus();
}

absl::Status QontrolHeaterDriver::SetVoltages(std::span<const int> channels,
                                              std::span<const double> volts_v) {
  for (std::size_t i = 0; i < channels.size(); ++i) {
    if (absl::Status s = CheckChannel(channels[i]); !s.ok()) return s;
    if (!(volts_v[i] >= options_.min_voltage_v && volts_v[i] <= options_.max_voltage_v)) {
      return absl::OutOfRangeError(absl::StrCat("channel ", channels[i], ": ", volts_v[i],
                                                " V is outside [", options_.min_voltage_v, ", ",
                                                options_.max_voltage_v, "] V"));
    }
  }
  for (std::size_t start = 0; start < channels.size();) {
    std::size_t end = start + 1;
    while (end < channels.size() && channels[end] == channels[end - 1] + 1) ++end;
    std::string command;
    if (end - start == 1) {
      command = absl::StrCat("V", channels[start], "=", absl::StrFormat("%.4f", volts_v[start]));
    } else {
      command = absl::StrCat("VVEC", channels[start], "=");
      for (std::size_t i = start; i < end; ++i) {
        absl::StrAppend(&command, i > start ? "," : "", absl::StrFormat("%.4f", volts_v[i]));
      }
    }
    absl::StatusOr<std::string> reply = Command(command);
    if (!reply.ok()) return reply.status();
    if (*reply != "OK") return Malformed(command, *reply);
    start = end;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> QontrolHeaterDriver::ReadVoltages() {
  absl::StatusOr<std::string> reply = Command("VALL?");
  if (!reply.ok()) return reply.status();
  absl::StatusOr<std::vector<double>> values = ParseQontrolValues(*reply, "V");
  if (!values.ok()) return values.status();
  if (static_cast<int>(values->size()) != channels_) {
    return absl::DataLossError(
        absl::StrCat("VALL? gave ", values->size(), " values for ", channels_, " channels"));
  }
  return values;
}

absl::StatusOr<double> QontrolHeaterDriver::ReadCurrentMa(int channel) {
  if (absl::Status s = CheckChannel(channel); !s.ok()) return s;
  absl::StatusOr<std::string> reply = Command(absl::StrCat("I", channel, "?"));
  if (!reply.ok()) return reply.status();
  return ParseQontrolValue(*reply, "mA");
}

absl::Status QontrolHeaterDriver::SetChannelLimits(int channel, double max_voltage_v,
                                                   double max_current_ma) {
  if (absl::Status s = CheckChannel(channel); !s.ok()) return s;
  if (!(max_voltage_v > 0.0 && max_voltage_v <= options_.max_voltage_v) ||
      !(max_current_ma > 0.0 && max_current_ma <= 100.0)) {
    return absl::InvalidArgumentError(absl::StrCat("channel ", channel, ": limits ", max_voltage_v,
                                                   " V, ", max_current_ma, " mA out of range"));
  }
  for (const std::string& command :
       {absl::StrCat("VMAX", channel, "=", absl::StrFormat("%.4f", max_voltage_v)),
        absl::StrCat("IMAX", channel, "=", absl::StrFormat("%.4f", max_current_ma))}) {
    absl::StatusOr<std::string> reply = Command(command);
    if (!reply.ok()) return reply.status();
    if (*reply != "OK") return Malformed(command, *reply);
  }
  return absl::OkStatus();
}

}  // namespace phc::drivers::serial
