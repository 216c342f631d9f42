// Speed of the simulator's optics: applying MZI meshes to batches of input
// vectors, changing their phases, and a whole simulated chip's write + read.
//
//   mesh_bench --benchmark_format=json > mesh.json
//   python3 tests/bench/mesh_ratio.py mesh.json
//
// MeshPropagate: our MZI-by-MZI propagation (28 real flops per MZI and input
//   vector), what the simulator does on every query.
// DenseBuildAndMultiply: the alternative when phases have just changed:
//   build the N x N matrix, then one complex GEMM (8 N^2 flops per vector).
// DenseMultiplyOnly: the GEMM alone, the bound when phases never change.
// MeshSetPhasesAndPropagate/N/moved: set new phases on `moved` MZIs (0: all
//   of them), then propagate one input vector: one query of on-chip training.
// SinCos*: batched sin and cos of 4096 angles, SLEEF against libm.
// SimChipWriteRead/chip/heaters: a SimChip from deploy/chips: write
//   `heaters` heaters (0: all), settle 20 tau, read every detector once.
// SimChipSweep/chip/rows/swept: rows input vectors read one by one or as
//   one hardware-timed sweep (SimChip::ReadSequencePhotocurrentsA).
// FmaPeak: independent fused multiply-adds on the widest vector unit the
//   build targets: one core's FLOP/s peak, measured in the same run.
#include <benchmark/benchmark.h>
#include <google/protobuf/text_format.h>
#include <immintrin.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "photonsim/mzi_mesh.h"
#include "photonsim/sim_chip.h"
#include "photonsim/vector_math.h"
#include "tests/sim/random_unitary.h"

namespace photonsim {
namespace {

using testing::RandomPhases;

MziMesh RandomMesh(int n) {
  MziMesh mesh = MziMesh::Clements(n);
  mesh.SetPhases(RandomPhases(mesh.phase_count(), n));
  return mesh;
}

void SetCounters(benchmark::State& state, int batch, double flops_per_vector) {
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["GFLOPS"] = benchmark::Counter(flops_per_vector * batch * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MeshPropagate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const MziMesh mesh = RandomMesh(n);
  MatrixXc fields = MatrixXc::Random(batch, n);
  for (auto _ : state) {
    mesh.Propagate(fields);  // unitary: values stay bounded over iterations
    benchmark::DoNotOptimize(fields.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, batch, 28.0 * mesh.mzi_count());
}

void BM_DenseBuildAndMultiply(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const MziMesh mesh = RandomMesh(n);
  const MatrixXc fields = MatrixXc::Random(batch, n);
  MatrixXc out(batch, n);
  for (auto _ : state) {
    const MatrixXc u = mesh.TransferMatrix();
    out.noalias() = fields * u.transpose();
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, batch, 8.0 * n * n);
}

void BM_DenseMultiplyOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const MatrixXc u_t = RandomMesh(n).TransferMatrix().transpose();
  const MatrixXc fields = MatrixXc::Random(batch, n);
  MatrixXc out(batch, n);
  for (auto _ : state) {
    out.noalias() = fields * u_t;
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, batch, 8.0 * n * n);
}

void BM_MeshSetPhasesAndPropagate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int moved = static_cast<int>(state.range(1));
  MziMesh mesh = RandomMesh(n);
  // Two settings that differ on the first `moved` MZIs (all when 0).
  std::vector<double> a = RandomPhases(mesh.phase_count(), 1);
  std::vector<double> b = a;
  const std::vector<double> other = RandomPhases(mesh.phase_count(), 2);
  const int moved_mzis = moved == 0 ? mesh.mzi_count() : moved;
  for (int m = 0; m < moved_mzis; ++m) {
    b[2 * m] = other[2 * m];
    b[2 * m + 1] = other[2 * m + 1];
  }
  MatrixXc fields = MatrixXc::Random(1, n);
  bool flip = false;
  for (auto _ : state) {
    mesh.SetPhases(flip ? a : b);
    flip = !flip;
    mesh.Propagate(fields);
    benchmark::DoNotOptimize(fields.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["moved_mzis"] = moved_mzis;
}

constexpr int kSinCosCount = 4096;

void BM_SinCosSleef(benchmark::State& state) {
  const std::vector<double> x = RandomPhases(kSinCosCount, 3);
  std::vector<double> s(kSinCosCount), c(kSinCosCount);
  for (auto _ : state) {
    SinCos(x, s, c);
    benchmark::DoNotOptimize(s.data());
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * kSinCosCount);
  state.SetLabel(SinCosKernelName());
}

void BM_SinCosLibm(benchmark::State& state) {
  const std::vector<double> x = RandomPhases(kSinCosCount, 3);
  std::vector<double> s(kSinCosCount), c(kSinCosCount);
  for (auto _ : state) {
    for (int i = 0; i < kSinCosCount; ++i) {
      s[i] = std::sin(x[i]);
      c[i] = std::cos(x[i]);
    }
    benchmark::DoNotOptimize(s.data());
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * kSinCosCount);
}

const char* const kChips[] = {"clements8", "clements16", "onn_svd8x24", "mrr_dfa"};

// A shipped chip drawn from seed 1, or null after SkipWithError.
std::unique_ptr<SimChip> ShippedChip(benchmark::State& state, const std::string& name,
                                     photonic::v1::ChipDescription& description) {
  std::ifstream file(std::string(PHC_SOURCE_DIR) + "/deploy/chips/" + name + ".textproto");
  std::stringstream text;
  text << file.rdbuf();
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &description)) {
    state.SkipWithError("cannot parse the chip description");
    return nullptr;
  }
  auto chip = SimChip::Create(description, 1);
  if (!chip.ok()) {
    state.SkipWithError(chip.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(chip);
}

void BM_SimChipWriteRead(benchmark::State& state) {
  const std::string name = kChips[state.range(0)];
  const int written = static_cast<int>(state.range(1));
  photonic::v1::ChipDescription description;
  std::unique_ptr<SimChip> chip = ShippedChip(state, name, description);
  if (chip == nullptr) return;
  SimChip& sim = *chip;
  const int heaters = sim.heater_count();
  const int count = written == 0 ? heaters : std::min(written, heaters);
  std::vector<int> channels(count);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> channel(0, heaters - 1);
  std::uniform_real_distribution<double> volts(0.0, 0.5 * description.heater().max_voltage_v());
  std::vector<double> values(count);
  sim.SetModulatorVoltages(std::vector<double>(sim.modulator_count(), 0.7));
  const auto settle = std::chrono::nanoseconds(
      static_cast<std::int64_t>(20 * description.thermal().tau_us() * 1e3));
  for (auto _ : state) {
    for (int i = 0; i < count; ++i) {
      channels[i] = written == 0 ? i : channel(rng);
      values[i] = volts(rng);
    }
    sim.SetHeaterVoltages(channels, values);
    sim.Advance(settle);
    benchmark::DoNotOptimize(sim.ReadPhotocurrentsA(1));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(name + ", " + std::to_string(heaters) + " heaters");
}

// SimChipSweep/chip/rows/swept: read `rows` input vectors at fixed phases,
// one SetModulatorVoltages + ReadPhotocurrentsA each (swept 0) or as one
// ReadSequencePhotocurrentsA (swept 1). Items: rows read.
void BM_SimChipSweep(benchmark::State& state) {
  const std::string name = kChips[state.range(0)];
  const int rows = static_cast<int>(state.range(1));
  const bool swept = state.range(2) != 0;
  photonic::v1::ChipDescription description;
  std::unique_ptr<SimChip> chip = ShippedChip(state, name, description);
  if (chip == nullptr) return;
  const int inputs = chip->modulator_count();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> volts(0.0, description.modulator().v_pi_v());
  std::vector<double> all(static_cast<std::size_t>(rows) * inputs);
  for (double& v : all) v = volts(rng);
  chip->ReadPhotocurrentsA(1);  // build the optics once
  for (auto _ : state) {
    if (swept) {
      benchmark::DoNotOptimize(chip->ReadSequencePhotocurrentsA(all, 1));
      continue;
    }
    for (int r = 0; r < rows; ++r) {
      chip->SetModulatorVoltages(std::span<const double>(all).subspan(r * inputs, inputs));
      benchmark::DoNotOptimize(chip->ReadPhotocurrentsA(1));
    }
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetLabel(name + (swept ? ", sweep" : ", row by row"));
}

void BM_FmaPeak(benchmark::State& state) {
  constexpr int kChains = 16;  // independent accumulators cover the FMA latency
  constexpr int kRepeats = 256;
#if defined(__AVX512F__)
  using Vec = __m512d;
  constexpr int kLanes = 8;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm512_fmadd_pd(a, b, c); };
  auto set1 = [](double x) { return _mm512_set1_pd(x); };
  state.SetLabel("avx512 fma");
#elif defined(__AVX2__) && defined(__FMA__)
  using Vec = __m256d;
  constexpr int kLanes = 4;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm256_fmadd_pd(a, b, c); };
  auto set1 = [](double x) { return _mm256_set1_pd(x); };
  state.SetLabel("avx2 fma");
#else
  using Vec = __m128d;
  constexpr int kLanes = 2;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm_add_pd(_mm_mul_pd(a, b), c); };
  auto set1 = [](double x) { return _mm_set1_pd(x); };
  state.SetLabel("sse2 mul+add");
#endif
  Vec acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = set1(1.0 + 1e-3 * k);
  const Vec scale = set1(0.999999), shift = set1(1e-7);
  for (auto _ : state) {
    for (int r = 0; r < kRepeats; ++r) {
#pragma GCC unroll 16
      for (int k = 0; k < kChains; ++k) acc[k] = fma(acc[k], scale, shift);
    }
    for (int k = 0; k < kChains; ++k) benchmark::DoNotOptimize(acc[k]);
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * kLanes * kChains * kRepeats * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int n : {8, 16, 32, 64}) {
    for (int batch : {1, 64, 1024}) b->Args({n, batch});
  }
}

BENCHMARK(BM_MeshPropagate)->Apply(Sizes);
BENCHMARK(BM_DenseBuildAndMultiply)->Apply(Sizes);
BENCHMARK(BM_DenseMultiplyOnly)->Apply(Sizes);
BENCHMARK(BM_MeshSetPhasesAndPropagate)->ArgsProduct({{16, 64}, {0, 1, 16}});
BENCHMARK(BM_FmaPeak);
BENCHMARK(BM_SinCosSleef);
BENCHMARK(BM_SinCosLibm);
BENCHMARK(BM_SimChipWriteRead)->ArgsProduct({{0, 1, 2, 3}, {0, 1, 8}});
BENCHMARK(BM_SimChipSweep)->ArgsProduct({{0, 1, 2}, {32, 256}, {0, 1}});

}  // namespace
}  // namespace photonsim

BENCHMARK_MAIN();
