// SCPI instruments over a Transport: a multi-channel photocurrent ADC /
// optical power meter and a TEC controller. After every setting command the
// error queue is drained (SYST:ERR? until 0,"No error") so a refused
// setting is reported, not lost.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/drivers/instrument_drivers.h"
#include "phc/drivers/link_health.h"
#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {

// --- Reply parsers (fuzzed) ---

struct ScpiError {
  int code = 0;  // 0: no error
  std::string message;
};
// `<code>,"<message>"`, e.g. -222,"Data out of range".
absl::StatusOr<ScpiError> ParseScpiError(std::string_view line);
// Comma-separated numbers in SCPI's NR1/NR2/NR3 forms ("1.5E-06").
absl::StatusOr<std::vector<double>> ParseScpiNumbers(std::string_view line);

struct ScpiOptions {
  std::chrono::milliseconds timeout{500};
  int retries = 1;  // after a timeout
};

class ScpiInstrument {
 public:
  ScpiInstrument(std::unique_ptr<Transport> transport, const ScpiOptions& options)
      : transport_(std::move(transport)), options_(options) {}
  // One reply line to a query (retried after a timeout).
  absl::StatusOr<std::string> Query(const std::string& query);
  // A setting; then the error queue, FAILED_PRECONDITION (or
  // INVALID_ARGUMENT for SCPI's -2xx execution errors) with the
  // instrument's message if it refused.
  absl::Status Command(const std::string& command);
  Transport& transport() { return *transport_; }

 private:
  std::unique_ptr<Transport> transport_;
  ScpiOptions options_;
};

// READ:CURR? -> one photocurrent per channel in amperes; SENS:AVER:TIME
// sets the averaging time per conversion.
class ScpiAdcDriver final : public AdcDriver {
 public:
  // *IDN?, then one READ:CURR? to count the channels.
  static absl::StatusOr<std::unique_ptr<ScpiAdcDriver>> Connect(
      std::unique_ptr<Transport> transport, double conversion_time_s,
      const ScpiOptions& options = {});
  int channel_count() const override { return channels_; }
  absl::StatusOr<std::vector<double>> ReadCurrentsA(int averages) override;
  const std::string& identity() const { return identity_; }

 private:
  explicit ScpiAdcDriver(std::unique_ptr<Transport> transport, const ScpiOptions& options)
      : scpi_(std::move(transport), options) {}
  // One READ:CURR? conversion, read again once if its reply is garbled.
  absl::StatusOr<std::vector<double>> ReadOnce();
  ScpiInstrument scpi_;
  int channels_ = 0;
  std::string identity_;
};

// TEC:T? (deg C), TEC:T <C> (setpoint), TEC:OUT 1|0, TEC:LIM:TMIN/TMAX.
// A controller that comes back after its link was lost (power-cycled,
// replugged) may have forgotten what it was told: when `link` counts a
// restoration, the limits, the setpoint and the output are sent again
// before the next command completes.
class ScpiTecController final : public TecDriver {
 public:
  static absl::StatusOr<std::unique_ptr<ScpiTecController>> Connect(
      std::unique_ptr<Transport> transport, double min_c, double max_c,
      const ScpiOptions& options = {}, std::shared_ptr<LinkHealth> link = nullptr);
  absl::StatusOr<double> ReadTemperatureC() override;
  // INVALID_ARGUMENT outside [min_c, max_c] (nothing is sent).
  absl::Status SetSetpointC(double celsius) override;
  double setpoint_c() const override { return setpoint_c_; }
  double min_setpoint_c() const override { return min_c_; }
  double max_setpoint_c() const override { return max_c_; }
  absl::Status SetOutput(bool on);

 private:
  ScpiTecController(std::unique_ptr<Transport> transport, double min_c, double max_c,
                    const ScpiOptions& options, std::shared_ptr<LinkHealth> link)
      : scpi_(std::move(transport), options),
        min_c_(min_c),
        max_c_(max_c),
        link_(std::move(link)),
        seen_restorations_(link_ ? link_->restorations() : 0) {}
  // After a restoration of the link: the limits, setpoint and output again.
  absl::Status ReassertAfterReconnect();
  ScpiInstrument scpi_;
  double min_c_;
  double max_c_;
  std::shared_ptr<LinkHealth> link_;
  std::uint64_t seen_restorations_;
  bool setpoint_sent_ = false;
  double setpoint_c_ = 0.0;  // until the first SetSetpointC
  bool output_on_ = false;
};

}  // namespace phc::drivers::serial
