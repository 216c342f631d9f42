#!/usr/bin/python3
"""DAT on the authors' MPNN: the table of docs/in_situ.md.

Runs build/tests/bench/dat_twin_bench --arch mpnn (three 64-mode meshes
cascaded coherently with the electro-optic activation between them,
complex Fourier inputs, the normalised intensities of the first 10 modes as
logits) against a twin with DAT's static errors, for each seed and sigma,
and prints error-free, deployed, PAT and DAT beside the paper's numbers.
The in silico model of a seed is trained once and cached (--cache-dir), so
both sigmas start from the same model. Every run's JSON lines go to
--results; a run already there is skipped, so a sweep resumes where it
stopped.

  tests/bench/dat_mpnn_table.py --train 20000 > table.md
"""
import argparse
import collections
import os
import statistics

import jsonl_sweep

# The authors' logged runs (THPCILab/DAT_MPNN, F-MNIST): error-free,
# deployed, PAT, DAT.
PAPER = {0.04: (0.860, 0.622, 0.736, 0.847), 0.06: (0.860, 0.543, 0.654, 0.786)}
STAGES = ["error_free_model", "deployed", "pat", "dat"]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--sigmas", default="0.04,0.06")
    parser.add_argument("--train", type=int, default=20000, help="training images (0: 60,000)")
    parser.add_argument("--silico-epochs", type=int, default=30)
    parser.add_argument("--situ-epochs", type=int, default=12)
    parser.add_argument("--situ-halving", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=4, help="DAT: epochs before the predictions")
    parser.add_argument("--cache-dir", default="/tmp")
    parser.add_argument("--results", default="/tmp/dat_mpnn_table.jsonl")
    args = parser.parse_args()
    finished = jsonl_sweep.done(args.results, "dat", lambda r: (r["seed"], r["sigma_rad"]))
    for seed in [int(s) for s in args.seeds.split(",")]:
        for sigma in [float(s) for s in args.sigmas.split(",")]:
            if (seed, sigma) in finished:
                continue
            cache = os.path.join(args.cache_dir, f"dat_mpnn_silico_t{args.train}_s{seed}.bin")
            command = [f"{args.build}/tests/bench/dat_twin_bench", "--arch", "mpnn",
                       "--modes", "64", "--sigma", str(sigma), "--seed", str(seed),
                       "--train", str(args.train), "--batch", "500",
                       "--silico-epochs", str(args.silico_epochs), "--silico-halving", "10",
                       "--situ-epochs", str(args.situ_epochs),
                       "--situ-halving", str(args.situ_halving), "--situ-lr", "0.001",
                       "--sepn-warmup-epochs", str(args.warmup), "--silico-cache", cache]
            log = os.path.splitext(args.results)[0] + f"_s{seed}_{sigma:g}.log"
            jsonl_sweep.run(command, args.results, log)
    cells = collections.defaultdict(lambda: collections.defaultdict(list))
    for row in sorted(jsonl_sweep.rows(args.results), key=lambda r: r["seed"]):
        cells[row["sigma_rad"]][row["stage"]].append(row["accuracy"])
    print("| σ_BS / σ_PS | error-free | deployed | PAT | DAT | DAT − PAT | "
          "paper (error-free / deployed / PAT / DAT) |")
    print("|---|---|---|---|---|---|---|")
    for sigma, cell in sorted(cells.items()):
        def show(stage):
            values = cell[stage]
            each = " / ".join(f"{v:.3f}" for v in values)
            return f"{each} ({statistics.mean(values):.3f})" if values else "–"
        margin = statistics.mean(cell["dat"]) - statistics.mean(cell["pat"])
        paper = " / ".join(f"{v:.3f}" for v in PAPER.get(sigma, ())) or "–"
        print(f"| {sigma:g} / {sigma:g} | {show('error_free_model')} | {show('deployed')} | "
              f"{show('pat')} | {show('dat')} | {margin:+.3f} | {paper} |")


if __name__ == "__main__":
    main()
