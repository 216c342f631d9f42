#!/usr/bin/python3
"""The sparse-ZO paper's optimizer comparison (Gu et al., AAAI 2021, Tables
1 and 2) in its own setting: every method fine-tunes the same deployed model
(trained in silico, deployed on a chip with the paper's noise model), with
the same budget of forwards (minibatch loss evaluations), seeds and
evaluations. Model, chip and training seed are the same number.

For each seed the model is trained in silico once (kept in --work), then
each method runs sparse_zo_paper_bench. Every run's JSON lines are appended
to --results; a run already there is skipped, so an interrupted sweep
resumes where it stopped. Prints markdown (one row per method: each seed's
recovered accuracy, the mean and spread, the forwards to each target, the
active devices' phase shift); --plot writes the mean accuracy against
forwards, one line per method.

  tests/bench/szo_optimizer_table.py --seeds 1,2,3 --plot docs/images/szo_optimizers.png
"""
import argparse
import os
import statistics

import jsonl_sweep
from szo_runs import (add_common_options, bench_command, forwards_to, plot_mean_curves, runs_by,
                      train)

# name -> (what it is, the paper's setting or ours, flags)
METHODS = {
    "szo_scd": ("SZO-SCD (`sparse_zo`)", "α 0.15, s 0.1, p 1, δ 0.02 ×0.985/epoch",
                ["--algorithm", "sparse_zo", "--alpha", "0.15", "--s", "0.1", "--p", "1"]),
    "flops": ("FLOPS (`gaussian_zo`)", "Q 60, lr 0.1 (the paper's), μ 0.02",
              ["--algorithm", "gaussian_zo", "--q", "60", "--lr", "0.1", "--mu", "0.02"]),
    "flops_lr0.01": ("FLOPS (`gaussian_zo`)", "Q 60, lr 0.01, μ 0.02",
                     ["--algorithm", "gaussian_zo", "--q", "60", "--lr", "0.01", "--mu", "0.02"]),
    "stp": ("STP (`stp`)", "α 0.1 rad ×0.985/epoch", ["--algorithm", "stp", "--lr", "0.1"]),
    "zadam_sparse": ("ZADAM (`zo_adam`)", "α 0.15, s 0.1, lr 1e-3 (the paper's), h 0.02",
                     ["--algorithm", "zo_adam", "--alpha", "0.15", "--s", "0.1", "--lr", "0.001",
                      "--mu", "0.02"]),
    "zadam_sparse_lr0.01": ("ZADAM (`zo_adam`)", "α 0.15, s 0.1, lr 0.01, h 0.02",
                            ["--algorithm", "zo_adam", "--alpha", "0.15", "--s", "0.1", "--lr",
                             "0.01", "--mu", "0.02"]),
    "zadam_dense": ("ZADAM (`zo_adam`)", "α 1, s 1, lr 1e-3 (the paper's), h 0.02",
                    ["--algorithm", "zo_adam", "--alpha", "1", "--s", "1", "--lr", "0.001",
                     "--mu", "0.02"]),
    "cocd": ("CoCD (`cocd`)", "B 8, lr 0.001, ε 0.02, γ 0.99",
             ["--algorithm", "cocd", "--lr", "0.001", "--mu", "0.02"]),
    "sparse_cocd": ("sparse CoCD (`sparse_cocd`, ours)", "α 0.15, B 8, lr 0.01, ε 0.02, γ 0.99",
                    ["--algorithm", "sparse_cocd", "--alpha", "0.15", "--lr", "0.01", "--mu",
                     "0.02"]),
}


def sweep(args):
    os.makedirs(args.work, exist_ok=True)
    finished = jsonl_sweep.done(args.results, "final", lambda r: (r["seed"], r["label"]))
    for seed in map(int, args.seeds.split(",")):
        params = None
        for name in args.methods.split(","):
            if (seed, name) in finished:
                continue
            params = params or train(args, seed)
            jsonl_sweep.run(bench_command(args, params, seed, name, METHODS[name][2]),
                            args.results)


def table(args):
    complete = runs_by(jsonl_sweep.rows(args.results), lambda row: row["label"])
    header = "| method | settings | seeds | recovered (per seed) | mean ± sd |"
    for target in args.targets:
        header += f" forwards to {target:g} (per seed) |"
    print(header + " active phases | active phase shift at the end, rad | wall (mean) |")
    print("|---|---|---|---|---|" + "---|" * len(args.targets) + "---|---|---|")
    for name in args.methods.split(","):
        if name not in complete:
            continue
        seeds = sorted(complete[name])
        finals = [complete[name][s]["final"] for s in seeds]
        recovered = [f["recovered"] for f in finals]
        spread = statistics.stdev(recovered) if len(recovered) > 1 else 0.0
        line = (f"| {METHODS[name][0]} | {METHODS[name][1]} | {','.join(map(str, seeds))} | "
                f"{' / '.join(f'{r:.4f}' for r in recovered)} | "
                f"{statistics.mean(recovered):.4f} ± {spread:.4f} |")
        for target in args.targets:
            each = [forwards_to(complete[name][s]["progress"], target) for s in seeds]
            line += f" {' / '.join('–' if f is None else f'{f:,}' for f in each)} |"
        print(line + f" {statistics.mean(f['active_phases'] for f in finals):,.0f} | "
              f"{statistics.mean(f['active_power_rad'] for f in finals):,.0f} | "
              f"{statistics.mean(f['wall_s'] for f in finals):.0f} s |")
    if args.plot:
        plot(args, complete)


def plot(args, complete):
    names = [name for name in args.methods.split(",") if name in complete]
    seeds = max(len(complete[name]) for name in names) if names else 0
    plot_mean_curves(
        args, [(f"{METHODS[name][0].split(' (')[0]}: {METHODS[name][1]}",
                [run["progress"] for run in complete[name].values()]) for name in names],
        f"Fine-tuning the deployed model (paper noise ×{args.noise_scale:g}, "
        f"mean of up to {seeds} seeds)", ylim=(0.3, 0.9), legend_size=6.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_options(parser, "/tmp/szo_optimizers")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"some of {', '.join(METHODS)}")
    args = parser.parse_args()
    args.targets = [float(t) for t in args.targets.split(",")]
    unknown = [m for m in args.methods.split(",") if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    if not args.table_only:
        sweep(args)
    table(args)


if __name__ == "__main__":
    main()
