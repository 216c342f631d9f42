// Speed of applying MZI meshes to batches of input vectors.
//
//   mesh_bench --benchmark_format=json > mesh.json
//   python3 tests/bench/mesh_ratio.py mesh.json
//
// MeshPropagate: our MZI-by-MZI propagation (28 real flops per MZI and input
//   vector), what the simulator does on every query.
// DenseBuildAndMultiply: the alternative when phases have just changed:
//   build the N x N matrix, then one complex GEMM (8 N^2 flops per vector).
// DenseMultiplyOnly: the GEMM alone, the bound when phases never change.
#include <benchmark/benchmark.h>

#include <numbers>
#include <random>
#include <vector>

#include "photonsim/mzi_mesh.h"

namespace photonsim {
namespace {

MziMesh RandomMesh(int n) {
  MziMesh mesh = MziMesh::Clements(n);
  std::mt19937_64 rng(n);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  std::vector<double> phases(mesh.phase_count());
  for (double& p : phases) p = phase(rng);
  mesh.SetPhases(phases);
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

void Sizes(benchmark::internal::Benchmark* b) {
  for (int n : {8, 16, 32, 64}) {
    for (int batch : {1, 64, 1024}) b->Args({n, batch});
  }
}

BENCHMARK(BM_MeshPropagate)->Apply(Sizes);
BENCHMARK(BM_DenseBuildAndMultiply)->Apply(Sizes);
BENCHMARK(BM_DenseMultiplyOnly)->Apply(Sizes);

}  // namespace
}  // namespace photonsim

BENCHMARK_MAIN();
