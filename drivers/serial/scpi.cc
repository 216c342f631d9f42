#include "phc/drivers/serial/scpi.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "reply_parsing.h"

namespace phc::drivers::serial {
namespace {

constexpr int kMaxErrorsDrained = 32;

}  // namespace

absl::StatusOr<ScpiError> ParseScpiError(std::string_view line) {
  const std::size_t comma = line.find(',');
  if (comma == std::string_view::npos || comma == 0 || comma > 7)
    return Malformed("SYST:ERR?", line);
  ScpiError error;
  const std::string_view code = Trim(line.substr(0, comma));
  const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), error.code);
  if (ec != std::errc() || end != code.data() + code.size()) return Malformed("SYST:ERR?", line);
  std::string_view message = Trim(line.substr(comma + 1));
  if (message.size() < 2 || message.front() != '"' || message.back() != '"') {
    return Malformed("SYST:ERR?", line);
  }
  error.message = Printable(message.substr(1, message.size() - 2));
  return error;
}

absl::StatusOr<std::vector<double>> ParseScpiNumbers(std::string_view line) {
  std::vector<double> values;
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find(',', start);
    const std::string_view part =
        Trim(line.substr(start, end == std::string_view::npos ? end : end - start));
    std::string_view digits = part;
    if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
    double value = 0.0;
    const auto [stop, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || stop != digits.data() + digits.size() ||
        !std::isfinite(value)) {
      return Malformed("numeric", line);
    }
    values.push_back(value);
    if (values.size() > 4096) return Malformed("numeric", line);
    if (end == std::string_view::npos) return values;
    start = end + 1;
  }
}

absl::StatusOr<std::string> ScpiInstrument::Query(const std::string& query) {
  absl::Status last;
  transport_->DiscardInput();  // a reply that came too late for its query is stale
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (absl::Status s = transport_->Write(absl::StrCat(query, "\n")); !s.ok()) return s;
    absl::StatusOr<std::string> reply = transport_->ReadLine(options_.timeout);
    if (reply.ok()) return reply;
    last = reply.status();
    if (last.code() != absl::StatusCode::kDeadlineExceeded) return last;
    transport_->DiscardInput();
  }
  return absl::Status(last.code(), absl::StrCat(query, ": ", last.message(), " after ",
                                                options_.retries + 1, " attempts"));
}

absl::Status ScpiInstrument::Command(const std::string& command) {
  if (absl::Status s = transport_->Write(absl::StrCat(command, "\n")); !s.ok()) return s;
  absl::Status first = absl::OkStatus();
  for (int i = 0; i < kMaxErrorsDrained; ++i) {
    absl::StatusOr<std::string> line = Query("SYST:ERR?");
    if (!line.ok()) return line.status();
    absl::StatusOr<ScpiError> error = ParseScpiError(*line);
    if (!error.ok()) return error.status();
    if (error->code == 0) return first;
    if (first.ok()) {
      const std::string message =
          absl::StrCat("\"", command, "\" refused: ", error->code, ",\"", error->message, "\"");
      // -2xx: execution errors (bad data, out of range, settings conflict).
      first = error->code <= -200 && error->code > -300 ? absl::InvalidArgumentError(message)
                                                        : absl::FailedPreconditionError(message);
    }
  }
  return absl::DataLossError(
      absl::StrCat("\"", command, "\": the error queue did not empty after ", kMaxErrorsDrained));
}

absl::StatusOr<std::unique_ptr<ScpiAdcDriver>> ScpiAdcDriver::Connect(
    std::unique_ptr<Transport> transport, double conversion_time_s, const ScpiOptions& options) {
  if (!(conversion_time_s > 0.0 && conversion_time_s <= 10.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ADC conversion time ", conversion_time_s, " s is not in (0, 10]"));
  }
  std::unique_ptr<ScpiAdcDriver> adc(new ScpiAdcDriver(std::move(transport), options));
  absl::StatusOr<std::string> id = adc->scpi_.Query("*IDN?");
  if (!id.ok()) return id.status();
  adc->identity_ = *id;
  if (absl::Status s =
          adc->scpi_.Command(absl::StrFormat("SENS:AVER:TIME %.6g", conversion_time_s));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> reading = adc->scpi_.Query("READ:CURR?");
  if (!reading.ok()) return reading.status();
  absl::StatusOr<std::vector<double>> values = ParseScpiNumbers(*reading);
  if (!values.ok()) return values.status();
  adc->channels_ = static_cast<int>(values->size());
  return adc;
}

absl::StatusOr<std::vector<double>> ScpiAdcDriver::ReadOnce() {
  // A reading is idempotent: one garbled by line noise is read again.
  absl::StatusOr<std::vector<double>> values;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<std::string> reading = scpi_.Query("READ:CURR?");
    if (!reading.ok()) return reading.status();
    values = ParseScpiNumbers(*reading);
    if (values.ok()) return values;
  }
  return values;
}

absl::StatusOr<std::vector<double>> ScpiAdcDriver::ReadCurrentsA(int averages) {
  std::vector<double> sum(channels_, 0.0);
  for (int a = 0; a < averages; ++a) {
    absl::StatusOr<std::vector<double>> values = ReadOnce();
    if (!values.ok()) return values.status();
    if (static_cast<int>(values->size()) != channels_) {
      return absl::DataLossError(
          absl::StrCat("READ:CURR? gave ", values->size(), " values for ", channels_, " channels"));
    }
    for (int k = 0; k < channels_; ++k) sum[k] += (*values)[k];
  }
  for (double& v : sum) v /= averages;
  return sum;
}

absl::StatusOr<std::unique_ptr<ScpiTecController>> ScpiTecController::Connect(
    std::unique_ptr<Transport> transport, double min_c, double max_c, const ScpiOptions& options,
    std::shared_ptr<LinkHealth> link) {
  if (!(min_c < max_c) || min_c < -40.0 || max_c > 120.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEC limits [", min_c, ", ", max_c, "] C are not within [-40, 120] C"));
  }
  std::unique_ptr<ScpiTecController> tec(
      new ScpiTecController(std::move(transport), min_c, max_c, options, std::move(link)));
  for (const std::string& command :
       {absl::StrFormat("TEC:LIM:TMIN %.3f", min_c), absl::StrFormat("TEC:LIM:TMAX %.3f", max_c)}) {
    if (absl::Status s = tec->scpi_.Command(command); !s.ok()) return s;
  }
  return tec;
}

absl::Status ScpiTecController::ReassertAfterReconnect() {
  if (link_ == nullptr) return absl::OkStatus();
  const std::uint64_t restorations = link_->restorations();
  if (restorations == seen_restorations_) return absl::OkStatus();
  std::vector<std::string> commands = {absl::StrFormat("TEC:LIM:TMIN %.3f", min_c_),
                                       absl::StrFormat("TEC:LIM:TMAX %.3f", max_c_)};
  if (setpoint_sent_) commands.push_back(absl::StrFormat("TEC:T %.3f", setpoint_c_));
  if (output_on_) commands.push_back("TEC:OUT 1");
  for (const std::string& command : commands) {
    if (absl::Status s = scpi_.Command(command); !s.ok()) return s;
  }
  seen_restorations_ = restorations;
  return absl::OkStatus();
}

absl::StatusOr<double> ScpiTecController::ReadTemperatureC() {
  absl::StatusOr<std::string> reply = scpi_.Query("TEC:T?");
  if (!reply.ok()) return reply.status();
  // The query itself may have reconnected the link. The reading stands
  // either way; a re-assert that fails is tried again on the next call.
  ReassertAfterReconnect().IgnoreError();
  absl::StatusOr<std::vector<double>> values = ParseScpiNumbers(*reply);
  if (!values.ok()) return values.status();
  if (values->size() != 1) return Malformed("TEC:T?", *reply);
  return values->front();
}

absl::Status ScpiTecController::SetSetpointC(double celsius) {
  if (!(celsius >= min_c_ && celsius <= max_c_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEC setpoint ", celsius, " C is outside [", min_c_, ", ", max_c_, "] C"));
  }
  // The limits go back before a new value (a restoration an earlier call saw).
  if (absl::Status s = ReassertAfterReconnect(); !s.ok()) return s;
  if (absl::Status s = scpi_.Command(absl::StrFormat("TEC:T %.3f", celsius)); !s.ok()) return s;
  setpoint_c_ = celsius;
  setpoint_sent_ = true;
  // This command may have reconnected: the setpoint is applied; the rest is
  // re-sent now, or on the next call if that fails.
  ReassertAfterReconnect().IgnoreError();
  return absl::OkStatus();
}

absl::Status ScpiTecController::SetOutput(bool on) {
  if (absl::Status s = ReassertAfterReconnect(); !s.ok()) return s;
  if (absl::Status s = scpi_.Command(on ? "TEC:OUT 1" : "TEC:OUT 0"); !s.ok()) return s;
  output_on_ = on;
  ReassertAfterReconnect().IgnoreError();
  return absl::OkStatus();
}

}  // namespace phc::drivers::serial
