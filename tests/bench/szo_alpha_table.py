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

  tests/bench/szo_alpha_table.py --seeds 1,2 --plot docs/images/szo_alpha.png > table.md
"""
import argparse
import collections
import os
import statistics
import subprocess
import sys

import jsonl_sweep


def forwards_to(progress, target):
    """The first evaluation's forwards at or above target, else None."""
    for row in progress:
        if row["test_accuracy"] >= target:
            return row["forwards"]
    return None


def train(args, seed):
    """The in silico model of this seed, trained once."""
    params = os.path.join(args.work, f"{os.path.basename(args.model).split('.')[0]}_s{seed}.params")
    if not os.path.exists(params):
        command = [f"{args.build}/tests/bench/model_bench", "--model", args.model,
                   "--realisation", "optical", "--seed", str(seed), "--epochs",
                   str(args.epochs), "--save", params]
        print("running", " ".join(command), file=sys.stderr)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return params


def sweep(args):
    os.makedirs(args.work, exist_ok=True)
    finished = jsonl_sweep.done(args.results, "final", lambda r: (r["seed"], r["alpha"], r["p"]))
    for seed in map(int, args.seeds.split(",")):
        params = None
        runs = [(float(a), float(p)) for p in args.ps.split(",") for a in args.alphas.split(",")]
        for alpha, prune in runs:
            if (seed, alpha, prune) in finished:
                continue
            params = params or train(args, seed)
            command = [f"{args.build}/tests/bench/sparse_zo_paper_bench", "--model", args.model,
                       "--params", params, "--noise", "paper", "--noise-scale",
                       str(args.noise_scale), "--alpha", str(alpha), "--s", "0.1", "--p", str(prune),
                       "--seed", str(seed), "--chip-seed", str(seed), "--forwards",
                       str(args.forwards), "--eval-every", str(args.eval_every), "--eval-test",
                       str(args.eval_test), "--test", str(args.test), "--target",
                       str(args.targets[0]), "--label", f"alpha {alpha:g}, p {prune:g}"]
            jsonl_sweep.run(command, args.results)


def table(args):
    # (alpha, p) -> seed -> {"progress": [...], "final": row}
    runs = collections.defaultdict(dict)
    for row in jsonl_sweep.rows(args.results):
        if row.get("benchmark") != "sparse_zo_paper" or row["stage"] not in ("progress", "final"):
            continue
        run = runs[(row["alpha"], row["p"])].setdefault(row["seed"], {"progress": [], "final": None})
        if row["stage"] == "progress":
            run["progress"].append(row)
        else:
            run["final"] = row
    complete = {key: {seed: run for seed, run in by_seed.items() if run["final"]}
                for key, by_seed in runs.items()}

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for key in sorted(complete):
        curves = [run["progress"] for run in complete[key].values()]
        length = min(len(c) for c in curves)
        forwards = [statistics.mean(c[i]["forwards"] for c in curves) for i in range(length)]
        accuracy = [statistics.mean(c[i]["test_accuracy"] for c in curves) for i in range(length)]
        axis.plot(forwards, accuracy, marker=".", label=f"α = {key[0]:g}")
    for target in args.targets:
        axis.axhline(target, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("forwards (minibatch loss evaluations)")
    axis.set_ylabel(f"test accuracy ({args.eval_test:,} images)")
    seeds = len(next(iter(complete.values()))) if complete else 0
    axis.set_title(f"SZO-SCD recovery by active fraction α (paper noise ×{args.noise_scale:g}, "
                   f"p 1, mean of {seeds} seed{'s' if seeds != 1 else ''})", fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.plot, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="deploy/models/mlp_64_24_24_10.textproto")
    parser.add_argument("--epochs", type=int, default=20, help="in silico epochs")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--alphas", default="0.05,0.1,0.15,0.3,0.5,1")
    parser.add_argument("--ps", default="1", help="pruning probabilities p, each with every alpha")
    parser.add_argument("--noise-scale", type=float, default=5)
    parser.add_argument("--forwards", type=int, default=30000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--eval-test", type=int, default=1000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--targets", default="0.80,0.82",
                        help="accuracies to count the forwards to (the first is the bench's)")
    parser.add_argument("--work", default="/tmp/szo_alpha", help="in silico models")
    parser.add_argument("--results", default="/tmp/szo_alpha/results.jsonl")
    parser.add_argument("--plot", help="PNG of accuracy against forwards")
    parser.add_argument("--table-only", action="store_true", help="print what --results holds")
    args = parser.parse_args()
    args.targets = [float(t) for t in args.targets.split(",")]
    if not args.table_only:
        sweep(args)
    table(args)


if __name__ == "__main__":
    main()
