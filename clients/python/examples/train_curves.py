#!/usr/bin/python3
"""Runs a training session in the daemon and plots its loss, test accuracy
and heater power against the step to a PNG.

    PYTHONPATH=clients/python:build/clients/python/gen \\
        clients/python/examples/train_curves.py unix:///tmp/photonicd.sock curves.png \\
        --widths 8,8 --steps 300 --dataset fashion-mnist
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from photonicd import Chip  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("png")
    parser.add_argument("--widths", default="8,8")
    parser.add_argument("--algorithm", default="sparse_zo")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    steps, loss, accuracy_steps, accuracy, power = [], [], [], [], []
    with Chip(args.address) as chip:
        session = chip.train(widths, algorithm=args.algorithm, steps=args.steps,
                             dataset=args.dataset, eval_every=args.eval_every, seed=args.seed)
        for status in session.progress():
            if status.step == 0:
                continue
            steps.append(status.step)
            loss.append(status.loss)
            power.append(status.heater_power_mw)
            if status.test_accuracy >= 0 and (not accuracy or accuracy_steps[-1] != status.step):
                accuracy_steps.append(status.step)
                accuracy.append(status.test_accuracy)
        final = session.status
    figure, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    axes[0].plot(steps, loss)
    axes[0].set_ylabel("minibatch loss")
    axes[1].plot(accuracy_steps, accuracy, marker="o")
    axes[1].set_ylabel("test accuracy")
    axes[2].plot(steps, power)
    axes[2].set_ylabel("heater power (mW)")
    axes[2].set_xlabel("step")
    axes[0].set_title(f"{final.algorithm} on {final.dataset_source}: "
                      f"{final.initial_test_accuracy:.3f} -> {final.test_accuracy:.3f} "
                      f"({final.termination_reason})")
    figure.tight_layout()
    figure.savefig(args.png, dpi=100)
    print(f"train_curves: {final.step} steps, test accuracy {final.test_accuracy:.3f} -> {args.png}")


if __name__ == "__main__":
    main()
