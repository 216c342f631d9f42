#!/usr/bin/python3
"""The sparse-ZO paper's alpha sweep (Gu et al., AAAI 2021, Figure 4): how
many forwards SZO-SCD needs to bring a deployed model back to a target
accuracy, for each active fraction alpha of the mesh phases, and the ratio
against alpha = 1 (every phase active).

For each seed the model is trained in silico once (model_bench --save, the
file is kept and reused), then deployed on a chip with the paper's noise
model and fine-tuned by sparse_zo_paper_bench for each alpha. Every run's
JSON lines are appended to --results; a run already there is skipped, so an
interrupted sweep resumes where it stopped. Prints markdown; --plot writes
accuracy against forwards, one line per alpha (the mean over seeds).
--passive runs the paper's mixed training: the phases a run does not train
are trimmed (passive) devices on the chip, with no power and no crosstalk.

  tests/bench/szo_alpha_table.py --seeds 1,2 --plot docs/images/szo_alpha.png > table.md
"""
import argparse
import os
import statistics

import jsonl_sweep
from szo_runs import (add_common_options, bench_command, forwards_to, plot_mean_curves, runs_by,
                      train)


def is_passive(row):
    """A run of --passive (its label says so; alpha 1 trims nothing)."""
    return row["label"].endswith(", passive")


def sweep(args):
    os.makedirs(args.work, exist_ok=True)
    finished = jsonl_sweep.done(args.results, "final",
                                lambda r: (r["seed"], r["alpha"], r["p"], is_passive(r)))
    for seed in map(int, args.seeds.split(",")):
        params = None
        runs = [(float(a), float(p)) for p in args.ps.split(",") for a in args.alphas.split(",")]
        for alpha, prune in runs:
            if (seed, alpha, prune, args.passive) in finished:
                continue
            params = params or train(args, seed)
            passive = ["--passive"] if args.passive else []
            command = bench_command(args, params, seed,
                                    f"alpha {alpha:g}, p {prune:g}{', passive' if passive else ''}",
                                    ["--alpha", str(alpha), "--s", "0.1", "--p", str(prune)] +
                                    passive)
            jsonl_sweep.run(command, args.results)


def table(args):
    rows = [row for row in jsonl_sweep.rows(args.results)
            if "label" not in row or is_passive(row) == args.passive]
    complete = runs_by(rows, lambda row: (row["alpha"], row["p"]))

    def mean_forwards(key, target):
        if key not in complete:
            return None
        reached = [forwards_to(run["progress"], target) for run in complete[key].values()]
        if not reached or None in reached:
            return None
        return statistics.mean(reached)

    header = "| α | p | seeds | deployed |"
    for target in args.targets:
        header += f" forwards to {target:g} (per seed; mean) | α = 1 ÷ this |"
    print(header + " recovered | active phases | active power at the end, rad | wall |")
    print("|---|---|---|---|" + "---|---|" * len(args.targets) + "---|---|---|---|")
    for key in sorted(complete, key=lambda k: (-k[1], k[0])):
        alpha, prune = key
        seeds = sorted(complete[key])
        finals = [complete[key][s]["final"] for s in seeds]

        def avg(field, fmt):
            return fmt.format(statistics.mean(f[field] for f in finals))

        line = (f"| {alpha:g} | {prune:g} | {','.join(map(str, seeds))} | "
                f"{avg('deployed', '{:.4f}')} |")
        for target in args.targets:
            each = [forwards_to(complete[key][s]["progress"], target) for s in seeds]
            mean = mean_forwards(key, target)
            dense = mean_forwards((1.0, prune), target)
            ratio = f"{dense / mean:.2f}×" if dense and mean else "–"
            line += (f" {' / '.join('–' if f is None else f'{f:,}' for f in each)}"
                     f"{'' if mean is None else f'; {mean:,.0f}'} | {ratio} |")
        print(line + f" {avg('recovered', '{:.4f}')} | {avg('active_phases', '{:,.0f}')} | "
              f"{avg('active_power_rad', '{:,.0f}')} | {avg('wall_s', '{:.0f} s')} |")
    if args.plot:
        plot(args, {key: runs for key, runs in complete.items() if key[1] == 1.0})


def plot(args, complete):
    seeds = len(next(iter(complete.values()))) if complete else 0
    plot_mean_curves(
        args, [(f"α = {key[0]:g}", [run["progress"] for run in complete[key].values()])
               for key in sorted(complete)],
        f"SZO-SCD recovery by active fraction α (paper noise ×{args.noise_scale:g}, "
        f"p 1{', passive' if args.passive else ''}, mean of {seeds} seed"
        f"{'s' if seeds != 1 else ''})")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_options(parser, "/tmp/szo_alpha")
    parser.add_argument("--alphas", default="0.05,0.1,0.15,0.3,0.5,1")
    parser.add_argument("--ps", default="1", help="pruning probabilities p, each with every alpha")
    parser.add_argument("--passive", action="store_true",
                        help="mixed training: the inactive phases are trimmed (passive) devices "
                             "(use its own --results)")
    args = parser.parse_args()
    args.targets = [float(t) for t in args.targets.split(",")]
    if not args.table_only:
        sweep(args)
    table(args)


if __name__ == "__main__":
    main()
