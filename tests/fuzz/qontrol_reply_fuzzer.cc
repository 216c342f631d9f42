// libFuzzer target: Qontrol reply parsers, and the heater driver talking to
// a device whose every reply is fuzzer input. Invariants: parsers never
// crash or accept a non-finite value; the driver never crashes, hangs or
// reports success with a channel count or voltages it could not have read.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "phc/drivers/serial/fake_transport.h"
#include "phc/drivers/serial/qontrol.h"

namespace serial = phc::drivers::serial;

static std::vector<std::string> Lines(std::string_view data) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = data.find('\n', start)) != std::string_view::npos; start = end + 1) {
    lines.emplace_back(data.substr(start, end - start));
  }
  lines.emplace_back(data.substr(start));
  return lines;
}

static void Require(bool condition) {
  if (!condition) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);

  for (std::string_view unit : {"V", "mA"}) {
    if (auto value = serial::ParseQontrolValue(data, unit); value.ok()) {
      Require(std::isfinite(*value));
    }
    if (auto values = serial::ParseQontrolValues(data, unit); values.ok()) {
      for (double v : *values) Require(std::isfinite(v));
    }
  }
  if (auto error = serial::ParseQontrolError(data)) {
    Require(!serial::QontrolErrorStatus(*error).ok());
  }
  if (auto channels = serial::ParseQontrolModule(data); channels.ok()) Require(*channels > 0);

  // The whole driver against a device answering with the fuzzer's lines.
  std::vector<std::string> replies = Lines(data);
  std::size_t next = 0;
  auto device = [&](const std::string&) {
    std::vector<std::string> out;
    if (next < replies.size()) out.push_back(replies[next++]);
    return out;
  };
  auto driver = serial::QontrolHeaterDriver::Connect(
      std::make_unique<serial::FakeTransport>(device), {.timeout = std::chrono::milliseconds(0)});
  if (!driver.ok()) return 0;
  Require((*driver)->channel_count() > 0);
  if (auto volts = (*driver)->ReadVoltages(); volts.ok()) {
    Require(static_cast<int>(volts->size()) == (*driver)->channel_count());
    for (double v : *volts) Require(std::isfinite(v));
  }
  const std::vector<int> channels = {0};
  const std::vector<double> volts = {1.0};
  (*driver)->SetVoltages(channels, volts).IgnoreError();
  if (auto current = (*driver)->ReadCurrentMa(0); current.ok()) Require(std::isfinite(*current));
  return 0;
}
