#!/usr/bin/python3
"""photonsim against a PyTorch peer, measured in the same run, as JSON lines.

usage: /usr/bin/python3 tests/bench/torch_peer.py --mesh-bench build/tests/bench/mesh_bench [--peak-gflops 46]

Measured, one thread each:
- torch_matmul: a plain complex128 (batch x N) @ (N x N) product, the bound
  a dense model of a fixed mesh reaches in torch;
- torch_mesh: a Clements mesh built from its phases column by column in
  torch and applied with one matmul, the way torch ONN libraries (torchonn)
  do it: our own torch code, since torchonn is not packaged in Debian and
  PyPI is not reachable here;
- photonsim: mesh_bench's MeshPropagate, DenseMultiplyOnly and
  MeshSetPhasesAndPropagate (every MZI moved), same N and batch.
Skips cleanly (one JSON line with "skipped", exit 0) when torch is absent.
"""
import argparse
import json
import math
import subprocess
import sys
import time


def best_seconds(fn, min_time=0.2):
    """Best of five repeats of the mean time over a loop of at least min_time."""
    fn()
    best = math.inf
    for _ in range(5):
        count, start = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time / 5:
                break
        best = min(best, elapsed / count)
    return best


def clements_unitary(torch, n, theta, phi):
    """U of an ideal Clements mesh: MZI m = i e^{i theta/2} [[e^{i phi} s, c], [e^{i phi} c, -s]]."""
    u = torch.eye(n, dtype=torch.complex128)
    m = 0
    for column in range(n):
        tops = list(range(column % 2, n - 1, 2))
        k = len(tops)
        t, p = theta[m:m + k], phi[m:m + k]
        m += k
        half = torch.exp(0.5j * t) * 1j
        s, c = torch.sin(t / 2), torch.cos(t / 2)
        ep = torch.exp(1j * p)
        a, b = half * ep * s, half * c
        cc, d = half * ep * c, -half * s
        top, bottom = u[tops, :], u[[x + 1 for x in tops], :]
        new_top = a[:, None] * top + b[:, None] * bottom
        new_bottom = cc[:, None] * top + d[:, None] * bottom
        u = u.clone()
        u[tops, :] = new_top
        u[[x + 1 for x in tops], :] = new_bottom
    return u


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mesh-bench", required=True)
    parser.add_argument("--peak-gflops", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print(json.dumps({"skipped": "torch is not installed (Debian: python3-torch)"}))
        return 0
    torch.set_num_threads(1)
    out = subprocess.run([args.mesh_bench, "--benchmark_format=json",
                          "--benchmark_filter=BM_MeshPropagate|BM_DenseMultiplyOnly|"
                          "BM_MeshSetPhasesAndPropagate/(16|64)/0",
                          "--benchmark_min_time=0.2"],
                         check=True, capture_output=True, text=True).stdout
    ours = {r["name"]: r for r in json.loads(out)["benchmarks"]}
    gen = torch.Generator().manual_seed(1)
    for n in (8, 16, 32, 64):
        mzis = n * (n - 1) // 2
        theta = torch.rand(mzis, generator=gen, dtype=torch.float64) * 2 * math.pi
        phi = torch.rand(mzis, generator=gen, dtype=torch.float64) * 2 * math.pi
        u = clements_unitary(torch, n, theta, phi)
        for batch in (1, 64, 1024):
            x = torch.randn(batch, n, dtype=torch.complex128)
            ut = u.T.contiguous()
            t_mm = best_seconds(lambda: x @ ut)
            t_mesh = best_seconds(lambda: x @ clements_unitary(torch, n, theta, phi).T)
            mesh = ours[f"BM_MeshPropagate/{n}/{batch}"]
            gemm = ours[f"BM_DenseMultiplyOnly/{n}/{batch}"]
            row = {
                "n": n, "batch": batch,
                "torch_matmul_gflops": 8 * n * n * batch / t_mm / 1e9,
                "torch_mesh_per_s": batch / t_mesh,
                "photonsim_mesh_per_s": mesh["items_per_second"],
                "photonsim_mesh_gflops": mesh["GFLOPS"],
                "photonsim_gemm_gflops": gemm["GFLOPS"],
                "photonsim_mesh_over_torch_mesh": mesh["items_per_second"] * t_mesh / batch,
                "photonsim_gemm_over_torch_matmul": gemm["GFLOPS"] / (8 * n * n * batch / t_mm / 1e9),
            }
            setp = ours.get(f"BM_MeshSetPhasesAndPropagate/{n}/0")
            if batch == 1 and setp:
                # torch_mesh rebuilds U from new phases every call: the same work.
                row["photonsim_set_phases_and_propagate_per_s"] = setp["items_per_second"]
                row["set_phases_and_propagate_over_torch_mesh"] = setp["items_per_second"] * t_mesh
            if args.peak_gflops:
                for key in ("torch_matmul_gflops", "photonsim_mesh_gflops",
                            "photonsim_gemm_gflops"):
                    row[key.replace("_gflops", "_share_of_peak")] = row[key] / args.peak_gflops
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                              for k, v in row.items()}))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
