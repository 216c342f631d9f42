#!/usr/bin/python3
"""Sweeps one MZI's internal phase and plots the output powers to a PNG.

    PYTHONPATH=clients/python:build/clients/python/gen \\
        clients/python/examples/phase_sweep.py unix:///tmp/photonicd.sock sweep.png

Light enters input 0; phase 0 (the first MZI's theta) steps over [0, 2 pi]
with every other phase at 0; each point reads the detectors (16 averages).
"""
import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from photonicd import Chip  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("png")
    parser.add_argument("--phase", type=int, default=0, help="phase index to sweep")
    parser.add_argument("--points", type=int, default=64)
    args = parser.parse_args()
    with Chip(args.address) as chip:
        info = chip.info()
        chip.set_inputs([1.0] + [0.0] * (info.input_count - 1))
        phases = [2 * math.pi * k / (args.points - 1) for k in range(args.points)]
        powers = []
        for phase in phases:
            chip.set_phases([phase], indices=[args.phase])
            powers.append(list(chip.read(averages=16).optical_power_mw))
        chip.set_phases([0.0] * info.phase_count)
        chip.set_inputs([0.0] * info.input_count)
    figure, axes = plt.subplots(figsize=(7, 4))
    for output in range(min(4, len(powers[0]))):
        axes.plot(phases, [p[output] for p in powers], label=f"output {output}")
    axes.set_xlabel(f"phase {args.phase} (rad)")
    axes.set_ylabel("optical power (mW)")
    axes.set_title(f"{info.name}: sweep of phase {args.phase}, light into input 0")
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.png, dpi=100)
    print(f"phase_sweep: {len(phases)} points -> {args.png}")


if __name__ == "__main__":
    main()
