// Round trip per serial command: photonicd's drivers talking to photonsim's
// instruments over pseudo-terminals (the path a USB-serial instrument takes
// minus the wire), against the same drivers on an in-process fake transport
// answering from the same emulators (the protocol and parsing cost alone).
//
//   build/tests/bench/serial_rtt_bench --benchmark_format=json
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "google/protobuf/text_format.h"
#include "instrument_emulators.h"
#include "phc/drivers/serial/fake_transport.h"
#include "phc/drivers/serial/qontrol.h"
#include "phc/drivers/serial/scpi.h"
#include "subprocess.h"

namespace {

namespace serial = phc::drivers::serial;
namespace emu = photonsim::emulators;

const std::string kChipPath = std::string(PHC_SOURCE_DIR) + "/deploy/chips/clements8.textproto";

struct Instruments {
  std::unique_ptr<serial::QontrolHeaterDriver> heaters;
  std::unique_ptr<serial::ScpiAdcDriver> adc;
};

// Over ptys, from a photonsim process (kept alive for the whole run).
Instruments* g_pty = nullptr;
// In-process: the same emulators behind FakeTransport.
Instruments* g_fake = nullptr;

void Fail(const std::string& what) {
  std::fprintf(stderr, "serial_rtt_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Fail(std::string(what) + ": " + value.status().ToString());
  return *std::move(value);
}

Instruments ConnectPty(phc::testing::Subprocess& photonsim) {
  std::map<std::string, std::string> paths;
  for (;;) {
    auto line = photonsim.ReadStdoutLine(std::chrono::seconds(20));
    if (!line) Fail("photonsim did not start");
    if (*line == "photonsim: ready") break;
    std::istringstream words(line->substr(11));
    std::string role, path;
    words >> role >> path;
    paths[role] = path;
  }
  Instruments pty;
  pty.heaters = Must(serial::QontrolHeaterDriver::Connect(
                         Must(serial::OpenFdTransport(paths["heaters"]), "open heaters")),
                     "heaters");
  pty.adc =
      Must(serial::ScpiAdcDriver::Connect(Must(serial::OpenFdTransport(paths["adc"]), "adc"), 1e-6),
           "adc");
  return pty;
}

Instruments ConnectFake(photonsim::SimChip& chip, emu::WallTime& time,
                        std::vector<std::unique_ptr<emu::LineDevice>>& devices) {
  devices.push_back(emu::MakeQontrolChain(chip, time, emu::QontrolRole::kHeaters, 10.0));
  devices.push_back(emu::MakeScpiAdc(chip, time));
  auto transport = [](emu::LineDevice* device) {
    return std::make_unique<serial::FakeTransport>(
        [device](const std::string& line) { return device->Answer(line); });
  };
  Instruments fake;
  fake.heaters =
      Must(serial::QontrolHeaterDriver::Connect(transport(devices[0].get())), "fake heaters");
  fake.adc = Must(serial::ScpiAdcDriver::Connect(transport(devices[1].get()), 1e-6), "fake adc");
  return fake;
}

Instruments& Pick(const benchmark::State& state) { return state.range(0) == 0 ? *g_pty : *g_fake; }

void Label(benchmark::State& state) { state.SetLabel(state.range(0) == 0 ? "pty" : "in-process"); }

// One channel: "V0=1.2345" -> "OK".
void BM_SetOneHeater(benchmark::State& state) {
  Instruments& in = Pick(state);
  const std::vector<int> channel = {0};
  std::vector<double> volts = {1.0};
  for (auto _ : state) {
    volts[0] = volts[0] == 1.0 ? 1.5 : 1.0;
    if (!in.heaters->SetVoltages(channel, volts).ok()) state.SkipWithError("write failed");
  }
  Label(state);
}

// Every heater of clements8 (56) as one VVEC line.
void BM_SetAllHeaters(benchmark::State& state) {
  Instruments& in = Pick(state);
  std::vector<int> channels(in.heaters->channel_count());
  for (std::size_t k = 0; k < channels.size(); ++k) channels[k] = static_cast<int>(k);
  std::vector<double> volts(channels.size(), 1.0);
  for (auto _ : state) {
    for (double& v : volts) v = v == 1.0 ? 1.5 : 1.0;
    if (!in.heaters->SetVoltages(channels, volts).ok()) state.SkipWithError("write failed");
  }
  Label(state);
}

// VALL?: 56 voltages back.
void BM_ReadAllHeaters(benchmark::State& state) {
  Instruments& in = Pick(state);
  for (auto _ : state) {
    if (!in.heaters->ReadVoltages().ok()) state.SkipWithError("read failed");
  }
  Label(state);
}

// READ:CURR?: 8 photocurrents.
void BM_ReadDetectors(benchmark::State& state) {
  Instruments& in = Pick(state);
  for (auto _ : state) {
    if (!in.adc->ReadCurrentsA(1).ok()) state.SkipWithError("read failed");
  }
  Label(state);
}

BENCHMARK(BM_SetOneHeater)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SetAllHeaters)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_ReadAllHeaters)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_ReadDetectors)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  phc::testing::Subprocess photonsim({PHOTONSIM_PATH, "--chip", kChipPath, "--seed", "1"});
  Instruments pty = ConnectPty(photonsim);
  g_pty = &pty;

  std::ifstream file(kChipPath);
  std::stringstream text;
  text << file.rdbuf();
  photonic::v1::ChipDescription description;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &description)) Fail("chip");
  auto chip = Must(photonsim::SimChip::Create(description, 1), "chip");
  emu::WallTime time(*chip);
  std::vector<std::unique_ptr<emu::LineDevice>> devices;
  Instruments fake = ConnectFake(*chip, time, devices);
  g_fake = &fake;

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
