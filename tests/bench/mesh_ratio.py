#!/usr/bin/python3
"""Tables of mesh_bench results from one run: rates, GFLOP/s, ratios.

usage: mesh_ratio.py mesh.json [--peak-gflops 46]

Prints markdown: the propagation table (mesh vs build+GEMM vs GEMM only,
with the share of one core's peak), set-phases + propagate against
propagation alone, the sincos kernels, and the SimChip write + read rates.
"""
import argparse
import json


def micros(run):
    """A run's real time per iteration in microseconds."""
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[run["time_unit"]]
    return run["real_time"] * scale


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("json")
    parser.add_argument("--peak-gflops", type=float, default=0.0,
                        help="one core's FLOP/s peak for the share columns "
                             "(default: BM_FmaPeak of the same run)")
    args = parser.parse_args()
    with open(args.json) as f:
        runs = json.load(f)["benchmarks"]
    by_name = {run["name"]: run for run in runs if run.get("run_type", "iteration") == "iteration"}
    if not args.peak_gflops and "BM_FmaPeak" in by_name:
        args.peak_gflops = by_name["BM_FmaPeak"]["GFLOPS"]
        print(f"One core's peak, measured in this run (BM_FmaPeak, "
              f"{by_name['BM_FmaPeak'].get('label', '')}): {args.peak_gflops:.1f} GFLOP/s\n")

    def share(gflops):
        return f" {100 * gflops / args.peak_gflops:.0f} % |" if args.peak_gflops else ""

    peak_head = " mesh % peak | GEMM % peak |" if args.peak_gflops else ""
    print("| N | batch | mesh applications/s | mesh GFLOP/s | build+GEMM applications/s |"
          " mesh / build+GEMM | GEMM-only applications/s | GEMM GFLOP/s |" + peak_head)
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if args.peak_gflops else ""))
    for name, run in by_name.items():
        if not name.startswith("BM_MeshPropagate/"):
            continue
        _, n, batch = name.split("/")[:3]
        dense = by_name[f"BM_DenseBuildAndMultiply/{n}/{batch}"]
        gemm = by_name[f"BM_DenseMultiplyOnly/{n}/{batch}"]
        rate = run["items_per_second"]
        print(f"| {n} | {batch} | {rate:.3g} | {run['GFLOPS']:.2f} | {dense['items_per_second']:.3g} |"
              f" {rate / dense['items_per_second']:.2f} | {gemm['items_per_second']:.3g} |"
              f" {gemm['GFLOPS']:.2f} |" + (share(run["GFLOPS"]) + share(gemm["GFLOPS"])
                                              if args.peak_gflops else ""))

    print()
    print("| N | MZIs moved | set phases + propagate (µs) | propagate alone (µs) | ratio |")
    print("|---|---|---|---|---|")
    for name, run in by_name.items():
        if not name.startswith("BM_MeshSetPhasesAndPropagate/"):
            continue
        _, n, _ = name.split("/")[:3]
        alone = by_name.get(f"BM_MeshPropagate/{n}/1")
        t_us = micros(run)
        a_us = micros(alone) if alone else float("nan")
        print(f"| {n} | {int(run['moved_mzis'])} | {t_us:.2f} | {a_us:.2f} | {t_us / a_us:.2f} |")

    print()
    for name in ("BM_SinCosSleef", "BM_SinCosLibm"):
        if name in by_name:
            run = by_name[name]
            label = run.get("label", "libm")
            print(f"- {name}: {run['items_per_second'] / 1e6:.0f} M sincos/s ({label or 'libm'})")

    print()
    print("| chip | heaters written | write + settle + read (µs) | reads/s |")
    print("|---|---|---|---|")
    for name, run in by_name.items():
        if not name.startswith("BM_SimChipWriteRead/"):
            continue
        written = name.split("/")[2]
        t_us = micros(run)
        chip = run.get("label", "").split(",")[0]
        print(f"| {chip} | {'all' if written == '0' else written} | {t_us:.1f} |"
              f" {run['items_per_second']:.3g} |")


if __name__ == "__main__":
    main()
