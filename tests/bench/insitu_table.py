#!/usr/bin/python3
"""In silico -> in situ table (error-free model, deployed, PAT, DAT) on the
simulated clements8 chip, calibrated, for several seeds and coupler
splitting errors. Runs build/tests/bench/insitu_bench; prints markdown.

  tests/bench/insitu_table.py --build build > table.md   (~2 min)
"""
import argparse
import collections
import json
import statistics
import subprocess
import sys

STAGES = ["error_free_model", "deployed", "pat", "dat"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build")
    parser.add_argument("--chip", default="deploy/chips/clements8.textproto")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--splitting", default="0.015,0.08")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--situ-epochs", type=int, default=8)
    args = parser.parse_args()
    results = collections.defaultdict(list)
    for splitting in args.splitting.split(","):
        for seed in args.seeds.split(","):
            command = [f"{args.build}/tests/bench/insitu_bench", "--chip", args.chip,
                       "--seed", seed, "--train", str(args.train), "--test", str(args.test),
                       "--silico-epochs", "20", "--situ-epochs", str(args.situ_epochs),
                       "--splitting-error-std", splitting]
            print("running", " ".join(command), file=sys.stderr)
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                row = json.loads(line)
                results[(splitting, row["stage"])].append(row["accuracy"])
    print("| coupler splitting error σ (rad) | " + " | ".join(STAGES) + " |")
    print("|---|" + "---|" * len(STAGES))
    for splitting in args.splitting.split(","):
        cells = []
        for stage in STAGES:
            values = results[(splitting, stage)]
            cells.append(" / ".join(f"{v:.3f}" for v in values) +
                         f" (mean {statistics.mean(values):.3f})")
        print(f"| {splitting} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
