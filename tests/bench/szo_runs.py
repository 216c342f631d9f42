"""Shared by the sparse-ZO paper-setting table scripts: the in silico model
of a seed (trained once, kept), the sparse_zo_paper_bench command, and the
runs of a results file grouped by a key."""
import collections
import os
import statistics
import subprocess
import sys


def forwards_to(progress, target):
    """The first evaluation's forwards at or above target, else None."""
    for row in progress:
        if row["test_accuracy"] >= target:
            return row["forwards"]
    return None


def train(args, seed):
    """The in silico model of this seed, trained once (model_bench --save)."""
    params = os.path.join(args.work, f"{os.path.basename(args.model).split('.')[0]}_s{seed}.params")
    if not os.path.exists(params):
        command = [f"{args.build}/tests/bench/model_bench", "--model", args.model,
                   "--realisation", "optical", "--seed", str(seed), "--epochs",
                   str(args.epochs), "--save", params]
        print("running", " ".join(command), file=sys.stderr)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return params


def bench_command(args, params, seed, label, settings):
    """sparse_zo_paper_bench on the paper's noise model (x args.noise_scale),
    model, chip and training seed alike; settings: the method's flags."""
    return [f"{args.build}/tests/bench/sparse_zo_paper_bench", "--model", args.model,
            "--params", params, "--noise", "paper", "--noise-scale", str(args.noise_scale),
            "--seed", str(seed), "--chip-seed", str(seed), "--forwards", str(args.forwards),
            "--eval-every", str(args.eval_every), "--eval-test", str(args.eval_test), "--test",
            str(args.test), "--target", str(args.targets[0]), "--label", label] + settings


def runs_by(rows, key):
    """key(row) -> seed -> {"progress": [...], "final": row}, complete runs only."""
    runs = collections.defaultdict(dict)
    for row in rows:
        if row.get("benchmark") != "sparse_zo_paper" or row["stage"] not in ("progress", "final"):
            continue
        run = runs[key(row)].setdefault(row["seed"], {"progress": [], "final": None})
        if row["stage"] == "progress":
            run["progress"].append(row)
        else:
            run["final"] = row
    return {k: {seed: run for seed, run in by_seed.items() if run["final"]}
            for k, by_seed in runs.items()}


def plot_mean_curves(args, curves, title, ylim=None, legend_size=8):
    """Writes args.plot: test accuracy against forwards, one line per
    (label, [run progress rows, one list per seed]) in curves, each the mean
    over its seeds, with the targets as dotted lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for label, runs in curves:
        length = min(len(c) for c in runs)
        forwards = [statistics.mean(c[i]["forwards"] for c in runs) for i in range(length)]
        accuracy = [statistics.mean(c[i]["test_accuracy"] for c in runs) for i in range(length)]
        axis.plot(forwards, accuracy, marker=".", markersize=3, label=label)
    for target in args.targets:
        axis.axhline(target, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("forwards (minibatch loss evaluations)")
    axis.set_ylabel(f"test accuracy ({args.eval_test:,} images)")
    axis.set_title(title, fontsize=10)
    if ylim:
        axis.set_ylim(*ylim)
    axis.legend(fontsize=legend_size, loc="lower right")
    figure.tight_layout()
    figure.savefig(args.plot, dpi=110)


def add_common_options(parser, work):
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="deploy/models/mlp_64_24_24_10.textproto")
    parser.add_argument("--epochs", type=int, default=20, help="in silico epochs")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--noise-scale", type=float, default=5)
    parser.add_argument("--forwards", type=int, default=30000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--eval-test", type=int, default=1000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--targets", default="0.80,0.82",
                        help="accuracies to count the forwards to (the first is the bench's)")
    parser.add_argument("--work", default=work, help="in silico models")
    parser.add_argument("--results", default=os.path.join(work, "results.jsonl"))
    parser.add_argument("--plot", help="PNG of accuracy against forwards")
    parser.add_argument("--table-only", action="store_true", help="print what --results holds")
