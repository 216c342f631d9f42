#!/usr/bin/python3
"""NTKD table: teacher, hybrid student without and with NTK distillation,
the fabricated (calibrated simulated chip) student, and backend-only
post-fabrication fine-tuning with CE and with NTKD, for several seeds.
Runs build/tests/bench/ntkd_bench; prints markdown.

  tests/bench/ntkd_table.py --build build > table.md   (~3 min)
"""
import argparse
import collections
import json
import statistics
import subprocess
import sys

STAGES = ["teacher", "student_without_ntkd", "student_ntkd", "fabricated_without_ntkd",
          "fabricated_ntkd", "finetuned_backend_ce", "finetuned_backend_ntkd"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build")
    parser.add_argument("--chip", default="deploy/chips/clements8.textproto")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--beta", default="1")
    args = parser.parse_args()
    results = collections.defaultdict(list)
    for seed in args.seeds.split(","):
        command = [f"{args.build}/tests/bench/ntkd_bench", "--chip", args.chip, "--seed", seed,
                   "--beta", args.beta]
        print("running", " ".join(command), file=sys.stderr)
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            row = json.loads(line)
            results[row["stage"]].append(row["accuracy"])
    print("| stage | accuracy (seeds " + args.seeds + ") | mean |")
    print("|---|---|---|")
    for stage in STAGES:
        values = results[stage]
        print(f"| {stage} | " + " / ".join(f"{v:.3f}" for v in values) +
              f" | {statistics.mean(values):.3f} |")


if __name__ == "__main__":
    main()
