#!/usr/bin/env python3
"""Table of mesh_bench results from one run: rates and mesh/dense ratios.

usage: mesh_ratio.py mesh.json
"""
import json
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    by_key = {}
    for run in runs:
        name, n, batch = run["name"].split("/")[:3]
        by_key[(name, int(n), int(batch))] = run
    print("| N | batch | mesh applications/s | mesh GFLOP/s | build+GEMM applications/s |"
          " mesh / build+GEMM | GEMM-only applications/s |")
    print("|---|---|---|---|---|---|---|")
    for (name, n, batch), run in sorted(by_key.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if name != "BM_MeshPropagate":
            continue
        dense = by_key[("BM_DenseBuildAndMultiply", n, batch)]
        gemm = by_key[("BM_DenseMultiplyOnly", n, batch)]
        mesh_rate = run["items_per_second"]
        print(f"| {n} | {batch} | {mesh_rate:.3g} | {run['GFLOPS']:.2f} |"
              f" {dense['items_per_second']:.3g} | {mesh_rate / dense['items_per_second']:.2f} |"
              f" {gemm['items_per_second']:.3g} |")


if __name__ == "__main__":
    main(sys.argv[1])
