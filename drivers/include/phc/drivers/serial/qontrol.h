// A Qontrol-compatible multi-channel heater driver (Q8iv modules, daisy
// chained, channels numbered across the chain) over a Transport.
//
// Commands (ASCII, "\n"-terminated): V<ch>=<volts> -> OK; V<ch>? ->
// "+1.2500 V"; I<ch>? -> "-0.0036 mA"; VALL? -> one "+1.2500 V" per channel,
// comma separated; VVEC<first>=v0,v1,... -> OK; VMAX<ch>=, IMAX<ch>= -> OK;
// ID? -> an identification line; NUPALL? -> one "<index>:<model>:<channels>"
// line per module, then OK. Errors arrive as "E<code>:<ch>" lines in place
// of a reply (01 over-voltage, 02 over-current, 03 power, 10 unknown
// command, 11 bad parameter, 12 bad channel, 14 buffer overflow, 15 comms
// error, 16 timeout).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/drivers/instrument_drivers.h"
#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {

// --- Reply parsers (fuzzed: tests/fuzz) ---

struct QontrolError {
  int code = 0;
  int channel = 0;
};

// "E<code>:<ch>" (ch may be absent: "E10"), else nullopt.
std::optional<QontrolError> ParseQontrolError(std::string_view line);
// The status a device error maps to, naming code, meaning and channel.
absl::Status QontrolErrorStatus(const QontrolError& error);
// "<sign><number> <unit>" (unit "V" or "mA"), e.g. "+1.2500 V".
absl::StatusOr<double> ParseQontrolValue(std::string_view line, std::string_view unit);
// VALL? reply: comma-separated values with unit.
absl::StatusOr<std::vector<double>> ParseQontrolValues(std::string_view line,
                                                       std::string_view unit);
// A NUPALL? module line "<index>:<model>:<channels>": its channel count.
absl::StatusOr<int> ParseQontrolModule(std::string_view line);

struct QontrolOptions {
  std::chrono::milliseconds timeout{200};  // per command
  int retries = 2;                         // after a timeout or a retryable device error
  double max_voltage_v = 12.0;             // the modules' own limit (Q8iv: 12 V)
  // Lowest voltage a write may ask for: 0 for unipolar modules, -max for
  // bipolar ones (push-pull modulator drivers).
  double min_voltage_v = 0.0;
};

class QontrolHeaterDriver final : public HeaterDriver {
 public:
  // Identifies the chain (ID?, NUPALL?) and counts its channels.
  static absl::StatusOr<std::unique_ptr<QontrolHeaterDriver>> Connect(
      std::unique_ptr<Transport> transport, const QontrolOptions& options = {});

  int channel_count() const override { return channels_; }
  double max_voltage_v() const override { return options_.max_voltage_v; }
  double min_voltage_v() const { return options_.min_voltage_v; }
  // Writes outside [min_voltage_v, max_voltage_v] are refused before sending.
  // Contiguous runs of channels go as one VVEC command, single ones as V.
  absl::Status SetVoltages(std::span<const int> channels, std::span<const double> volts_v) override;
  absl::StatusOr<std::vector<double>> ReadVoltages() override;
  absl::StatusOr<double> ReadCurrentMa(int channel);
  absl::Status SetChannelLimits(int channel, double max_voltage_v, double max_current_ma);
  const std::string& identity() const { return identity_; }

 private:
  QontrolHeaterDriver(std::unique_ptr<Transport> transport, const QontrolOptions& options)
      : transport_(std::move(transport)), options_(options) {}

  // Sends one command and returns its reply line (or OK), retrying on
  // timeouts and retryable device errors.
  absl::StatusOr<std::string> Command(const std::string& command);
  absl::Status CheckChannel(int channel) const;

  std::unique_ptr<Transport> transport_;
  QontrolOptions options_;
  int channels_ = 0;
  std::string identity_;
};

}  // namespace phc::drivers::serial
