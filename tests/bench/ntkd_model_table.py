#!/usr/bin/python3
"""NTKD at the paper's scale: the table of docs/in_situ.md.

Runs build/tests/bench/ntkd_model_bench once per seed (teacher, hybrid
student without and with NTK distillation, then each fabrication: the
student's optical convolution on a simulated chip, and its digital backend
fine-tuned on the measured outputs with CE and with NTKD). Every run's JSON
lines are appended to --results and a seed already there is skipped, so an
interrupted sweep resumes where it stopped. Prints markdown: mean over the
seeds, the seeds' values in brackets, beside the paper's MNIST numbers.

  tests/bench/ntkd_model_table.py --seeds 1,2,3 > table.md
"""
import argparse
import collections
import json
import statistics

import jsonl_sweep

# (stage, row label, the paper's MNIST number: Xiang et al. 2025, 5 seeds)
IN_SILICO = [("teacher", "teacher (LeNet-class, electronic)", "0.991"),
             ("student_without_ntkd", "student without NTKD", "0.914"),
             ("student_with_ntkd", "student with NTKD", "0.973")]
FABRICATED = [("fabricated_without_ntkd", "fabricated, student without NTKD", "–"),
              ("fabricated", "fabricated, no compensation (NTKD student)", "0.892"),
              ("finetuned_ce", "fabricated, backend fine-tuned with CE", "0.932"),
              ("finetuned_ntkd", "fabricated, backend fine-tuned with NTKD", "0.951")]


def chip_name(row):
    if row.get("noise") == "chip":
        return "our chip (onn_svd8x24's errors)"
    return f"Gu et al.'s noise ×{row['noise_scale']:g}"


def cell(values):
    if not values:
        return "–"
    seeds = " / ".join(f"{v:.3f}" for v in values)
    return f"{statistics.mean(values):.3f} ({seeds})"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--chips", default="paper:3,paper:5,chip")
    parser.add_argument("--results", default="/tmp/ntkd_model_table.jsonl")
    parser.add_argument("extra", nargs="*", help="more ntkd_model_bench flags (after --)")
    args = parser.parse_args()
    finished = jsonl_sweep.done(args.results, "finetuned_ntkd", lambda r: str(r["seed"]))
    for seed in args.seeds.split(","):
        if seed in finished:
            continue
        command = [f"{args.build}/tests/bench/ntkd_model_bench", "--seed", seed,
                   "--chips", *args.chips.split(","), *args.extra]
        jsonl_sweep.run(command, args.results)
    in_silico = collections.defaultdict(list)
    fabricated = collections.defaultdict(lambda: collections.defaultdict(list))
    walls = collections.defaultdict(list)
    with open(args.results) as f:
        for line in f:
            row = json.loads(line)
            walls[row["stage"]].append(row["wall_s"])
            if "noise" in row:
                fabricated[chip_name(row)][row["stage"]].append(row["accuracy"])
            else:
                in_silico[row["stage"]].append(row["accuracy"])
    print("| stage | ours, Fashion-MNIST: mean (seeds) | paper, MNIST |")
    print("|---|---|---|")
    for stage, name, paper in IN_SILICO:
        print(f"| {name} | {cell(in_silico[stage])} | {paper} |")
    for chip, stages in fabricated.items():
        print(f"| **{chip}** | | |")
        for stage, name, paper in FABRICATED:
            print(f"| {name} | {cell(stages[stage])} | {paper} |")
    print()
    print("Mean wall time per stage (s): " + ", ".join(
        f"{stage} {statistics.mean(v):.0f}" for stage, v in walls.items()))


if __name__ == "__main__":
    main()
