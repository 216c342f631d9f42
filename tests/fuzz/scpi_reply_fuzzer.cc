// libFuzzer target: SCPI reply parsers, and the ADC and TEC drivers talking
// to an instrument whose every reply is fuzzer input. Invariants: no crash,
// no hang, no non-finite number accepted, readings always one per channel.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "phc/drivers/serial/fake_transport.h"
#include "phc/drivers/serial/scpi.h"

namespace serial = phc::drivers::serial;

static void Require(bool condition) {
  if (!condition) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);

  if (auto numbers = serial::ParseScpiNumbers(data); numbers.ok()) {
    Require(!numbers->empty());
    for (double v : *numbers) Require(std::isfinite(v));
  }
  if (auto error = serial::ParseScpiError(data); error.ok()) {
    for (char c : error->message) Require(c >= 0x20 && c <= 0x7e);
  }

  std::vector<std::string> replies;
  std::size_t start = 0;
  for (std::size_t end; (end = data.find('\n', start)) != std::string_view::npos; start = end + 1) {
    replies.emplace_back(data.substr(start, end - start));
  }
  replies.emplace_back(data.substr(start));
  std::size_t next = 0;
  auto device = [&](const std::string& line) {
    std::vector<std::string> out;
    // Settings have no reply; queries take the next fuzzed line.
    if (line.find('?') != std::string::npos && next < replies.size()) {
      out.push_back(replies[next++]);
    }
    return out;
  };
  const serial::ScpiOptions fast{.timeout = std::chrono::milliseconds(0), .retries = 1};
  auto adc =
      serial::ScpiAdcDriver::Connect(std::make_unique<serial::FakeTransport>(device), 1e-6, fast);
  if (adc.ok()) {
    Require((*adc)->channel_count() > 0);
    if (auto currents = (*adc)->ReadCurrentsA(2); currents.ok()) {
      Require(static_cast<int>(currents->size()) == (*adc)->channel_count());
      for (double v : *currents) Require(std::isfinite(v));
    }
  }
  next = 0;
  auto tec = serial::ScpiTecController::Connect(std::make_unique<serial::FakeTransport>(device),
                                                15.0, 35.0, fast);
  if (tec.ok()) {
    if (auto t = (*tec)->ReadTemperatureC(); t.ok()) Require(std::isfinite(*t));
    Require(!(*tec)->SetSetpointC(99.0).ok());
  }
  return 0;
}
