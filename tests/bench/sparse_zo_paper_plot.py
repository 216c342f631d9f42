#!/usr/bin/python3
"""Plots sparse_zo_paper_bench runs: test accuracy and active-device power
against forwards, one line per run.

    /usr/bin/python3 tests/bench/sparse_zo_paper_plot.py OUT.png RUN.jsonl...

A run with a "label" (sparse_zo_paper_bench --label) is named by it.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    out, runs = sys.argv[1], sys.argv[2:]
    figure, (accuracy, power) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for path in runs:
        rows = [json.loads(line) for line in open(path)]
        progress = [r for r in rows if r["stage"] == "progress"]
        if not progress:
            continue
        head = progress[0]
        label = head.get("label") or (
            f"noise ×{head['noise_scale']:g}, α {head['alpha']:g}, p {head['p']:g}")
        forwards = [r["forwards"] for r in progress]
        accuracy.plot(forwards, [r["test_accuracy"] for r in progress], marker="o", label=label)
        power.plot(forwards, [r["active_power_rad"] for r in progress], marker="o", label=label)
    accuracy.set_ylabel("test accuracy (1,000 images)")
    accuracy.legend(fontsize=8)
    power.set_ylabel("active phase shift, rad")
    power.set_yscale("log")
    power.set_xlabel("forwards (minibatch loss evaluations)")
    figure.suptitle("Fine-tuning mlp_64_24_24_10 deployed under the paper's noise model")
    figure.tight_layout()
    figure.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
