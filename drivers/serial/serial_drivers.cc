#include "phc/drivers/serial/serial_drivers.h"

#include "absl/strings/str_cat.h"
#include "phc/drivers/serial/qontrol.h"
#include "phc/drivers/serial/reconnecting_transport.h"
#include "phc/drivers/serial/scpi.h"

namespace phc::drivers::serial {
namespace {

// The modulators' DAC: every channel written at once, as one VVEC.
class QontrolDacDriver final : public DacDriver {
 public:
  explicit QontrolDacDriver(std::unique_ptr<QontrolHeaterDriver> chain)
      : chain_(std::move(chain)), all_(chain_->channel_count()) {
    for (int k = 0; k < chain_->channel_count(); ++k) all_[k] = k;
  }
  int channel_count() const override { return chain_->channel_count(); }
  double max_voltage_v() const override { return chain_->max_voltage_v(); }
  double min_voltage_v() const override { return chain_->min_voltage_v(); }
  absl::Status SetVoltages(std::span<const double> volts_v) override {
    return chain_->SetVoltages(all_, volts_v);
  }

 private:
  std::unique_ptr<QontrolHeaterDriver> chain_;
  std::vector<int> all_;
};

absl::StatusOr<std::unique_ptr<Transport>> Open(const std::string& role, const std::string& path,
                                                const SerialPorts& ports) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("serial.", role, " is empty"));
  absl::StatusOr<std::unique_ptr<Transport>> transport =
      OpenPort(path, PortSettings{.baud = ports.baud});
  if (!transport.ok()) {
    return absl::Status(transport.status().code(),
                        absl::StrCat(role, ": ", transport.status().message()));
  }
  return transport;
}

template <typename T>
absl::StatusOr<T> Named(const std::string& role, absl::StatusOr<T> value) {
  if (value.ok()) return value;
  return absl::Status(value.status().code(),
                      absl::StrCat(role, " instrument: ", value.status().message()));
}

}  // namespace

absl::StatusOr<DriverSet> ConnectSerialDrivers(SerialTransports transports,
                                               const SerialPorts& ports,
                                               std::shared_ptr<Clock> clock) {
  DriverSet set;
  set.backend_name = "serial";
  set.clock = std::move(clock);
  set.links = std::make_shared<LinkHealth>();
  auto reconnecting = [&](std::unique_ptr<Transport> transport, const std::string& role) {
    return std::make_unique<ReconnectingTransport>(std::move(transport), role, set.links, set.clock,
                                                   ports.backoff);
  };

  auto heaters = Named(
      "heaters", QontrolHeaterDriver::Connect(
                     reconnecting(std::move(transports.heaters), "heaters"),
                     {.timeout = ports.timeout, .max_voltage_v = ports.heater_max_voltage_v}));
  if (!heaters.ok()) return heaters.status();
  set.heaters = *std::move(heaters);

  auto modulators =
      Named("modulators",
            QontrolHeaterDriver::Connect(
                reconnecting(std::move(transports.modulators), "modulators"),
                {.timeout = ports.timeout,
                 .max_voltage_v = ports.modulator_max_voltage_v,
                 .min_voltage_v = ports.modulator_bipolar ? -ports.modulator_max_voltage_v : 0.0}));
  if (!modulators.ok()) return modulators.status();
  set.modulators = std::make_unique<QontrolDacDriver>(*std::move(modulators));

  auto adc =
      Named("adc", ScpiAdcDriver::Connect(reconnecting(std::move(transports.adc), "adc"),
                                          ports.adc_conversion_time_s, {.timeout = ports.timeout}));
  if (!adc.ok()) return adc.status();
  set.detectors = *std::move(adc);

  if (transports.tec) {
    // The TEC controller regulates on its own: losing its link leaves the
    // chip's temperature unknown, not the chip unsafe. So its link has a
    // health of its own (it reconnects with the same backoff) and does not
    // take the daemon out of service.
    auto tec_health = std::make_shared<LinkHealth>();
    auto tec_link = std::make_unique<ReconnectingTransport>(std::move(transports.tec), "tec",
                                                            tec_health, set.clock, ports.backoff);
    auto tec = Named("tec", ScpiTecController::Connect(
                                std::move(tec_link), ports.tec_setpoint_c - 10,
                                ports.tec_setpoint_c + 10, {.timeout = ports.timeout}, tec_health));
    if (!tec.ok()) return tec.status();
    if (absl::Status s = (*tec)->SetSetpointC(ports.tec_setpoint_c); !s.ok()) return s;
    if (absl::Status s = (*tec)->SetOutput(true); !s.ok()) return s;
    set.tec = *std::move(tec);
  }
  return set;
}

absl::StatusOr<DriverSet> MakeSerialDrivers(const SerialPorts& ports) {
  SerialTransports transports;
  for (auto [role, path, slot] :
       {std::tuple{"heaters", &ports.heaters, &transports.heaters},
        std::tuple{"modulators", &ports.modulators, &transports.modulators},
        std::tuple{"adc", &ports.adc, &transports.adc},
        std::tuple{"tec", &ports.tec, &transports.tec}}) {
    if (path->empty() && std::string_view(role) == "tec") continue;
    absl::StatusOr<std::unique_ptr<Transport>> port = Open(role, *path, ports);
    if (!port.ok()) return port.status();
    *slot = *std::move(port);
  }
  return ConnectSerialDrivers(std::move(transports), ports, std::make_shared<SteadyClock>());
}

}  // namespace phc::drivers::serial
