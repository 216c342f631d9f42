#!/usr/bin/python3
"""GIFT under noise misspecification: the table of docs/in_situ.md.

A model trained in silico under a small assumed phase noise (model_bench
--phase-noise-std, run first) is deployed onto chips with the paper noise
model of Gu et al. at several scales (stronger than assumed); gift_bench
measures deployed, GIFT, PAT and (optionally) noise-aware retraining on
each, for several chip seeds. Every run's JSON lines are appended to
--results, and a run already there is skipped, so an interrupted sweep
resumes where it stopped. Prints markdown.

  build/tests/bench/model_bench --model deploy/models/ffn5_gift.textproto \\
      --realisation optical --seed 1 --epochs 10 --phase-noise-std 0.007 \\
      --save /tmp/ffn5_s1.params
  tests/bench/gift_table.py --params /tmp/ffn5_s1.params > table.md
"""
import argparse
import collections
import json
import statistics

import jsonl_sweep

STAGES = ["deployed", "gift", "pat", "noise_aware_retraining"]


def key(row):
    return (row["noise_scale"], row["chip_seed"])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="deploy/models/ffn5_gift.textproto")
    parser.add_argument("--params", required=True)
    parser.add_argument("--scales", default="2,5,10")
    parser.add_argument("--chip-seeds", default="1,2,3")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--retrain-epochs", type=int, default=0)
    parser.add_argument("--results", default="/tmp/gift_table.jsonl")
    args = parser.parse_args()
    # pat: the last stage gift_bench always prints.
    done = jsonl_sweep.done(args.results, "pat",
                            lambda r: (str(r["noise_scale"]), str(r["chip_seed"])))
    for scale in args.scales.split(","):
        for seed in args.chip_seeds.split(","):
            if (scale, seed) in done:
                continue
            command = [f"{args.build}/tests/bench/gift_bench", "--model", args.model,
                       "--params", args.params, "--noise-scale", scale, "--chip-seed", seed,
                       "--steps", str(args.steps), "--test", str(args.test),
                       "--retrain-epochs", str(args.retrain_epochs)]
            jsonl_sweep.run(command, args.results)
    rows = collections.defaultdict(dict)
    sigma = collections.defaultdict(list)
    with open(args.results) as f:
        for line in f:
            row = json.loads(line)
            if row["stage"] == "noise_structure":
                sigma[row["noise_scale"]].append(statistics.mean(row["phase_std_rad"]))
            elif row["stage"] in STAGES:
                rows[key(row)][row["stage"]] = row
    scales = sorted({k[0] for k in rows})
    print("| noise scale | measured σ (rad) | deployed | GIFT | PAT | retrained | "
          "GIFT relative gain | GIFT / PAT chip queries |")
    print("|---|---|---|---|---|---|---|---|")
    for scale in scales:
        cells = collections.defaultdict(list)
        for (s, _), stages in sorted(rows.items()):
            if s != scale:
                continue
            for stage, row in stages.items():
                cells[stage].append(row["accuracy"])
            if "gift" in stages:
                cells["gain"].append(stages["gift"]["relative_gain"])
                cells["gift_q"].append(stages["gift"]["chip_queries"])
                cells["pat_q"].append(stages["pat"]["chip_queries"])

        def mean(name, fmt="{:.3f}"):
            values = cells[name]
            return fmt.format(statistics.mean(values)) if values else "–"

        print(f"| {scale:g} | {statistics.mean(sigma[scale]):.3f} | {mean('deployed')} | "
              f"{mean('gift')} | {mean('pat')} | {mean('noise_aware_retraining')} | "
              f"{mean('gain', '{:+.0%}')} | {mean('gift_q', '{:,.0f}')} / "
              f"{mean('pat_q', '{:,.0f}')} |")


if __name__ == "__main__":
    main()
