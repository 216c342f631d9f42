#!/usr/bin/python3
"""Plots sparse_zo_paper_bench runs: test accuracy and active-device power
against forwards, one line per run.

    /usr/bin/python3 tests/bench/sparse_zo_paper_plot.py [--title T] OUT.png RUNS.jsonl...

A file may hold several runs, told apart (and named) by their "label"
(sparse_zo_paper_bench --label) and seed.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def runs_in(path):
    """The progress rows of each run in a file (runs told apart by label and seed)."""
    runs = {}
    for line in open(path):
        row = json.loads(line)
        if row["stage"] == "progress":
            runs.setdefault((row.get("label", ""), row["seed"]), []).append(row)
    return runs.values()


def main():
    title = "Fine-tuning mlp_64_24_24_10 deployed under the paper's noise model"
    if sys.argv[1] == "--title":
        title, sys.argv[1:] = sys.argv[2], sys.argv[3:]
    out, paths = sys.argv[1], sys.argv[2:]
    figure, (accuracy, power) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    images = 1000
    runs = [run for path in paths for run in runs_in(path)]
    seeds_of = {}
    for progress in runs:
        seeds_of.setdefault(progress[0].get("label"), set()).add(progress[0]["seed"])
    for progress in runs:
        head = progress[0]
        label = head.get("label") or (
            f"noise ×{head['noise_scale']:g}, α {head['alpha']:g}, p {head['p']:g}")
        if len(seeds_of[head.get("label")]) > 1:
            label += f", seed {head['seed']}"  # one label, several seeds
        forwards = [r["forwards"] for r in progress]
        images = head["test"]
        accuracy.plot(forwards, [r["test_accuracy"] for r in progress], marker="o", label=label)
        power.plot(forwards, [r["active_power_rad"] for r in progress], marker="o", label=label)
    accuracy.set_ylabel(f"test accuracy ({images:,} images)")
    accuracy.legend(fontsize=8)
    power.set_ylabel("active phase shift, rad")
    power.set_yscale("log")
    power.set_xlabel("forwards (minibatch loss evaluations)")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
