#!/usr/bin/python3
"""PAT and DAT on a deployed model: the model-level table of docs/in_situ.md.

A model trained in silico (model_bench --save, run first) is deployed,
uncalibrated, onto simulated chips made for it with DAT's error model
(static coupler and phase errors of std sigma, Zheng et al.) and with the
noise model of Gu et al. at a few scales; gift_bench --methods pat,dat
measures deployed, PAT and DAT on each chip seed. Every run's JSON lines
are appended to --results, and a run already there is skipped, so an
interrupted sweep resumes where it stopped. Prints markdown beside the
paper's numbers.

  build/tests/bench/model_bench --model deploy/models/ffn5_gift.textproto \\
      --realisation optical --seed 1 --epochs 10 --phase-noise-std 0.007 \\
      --save /tmp/ffn5_s1.params
  tests/bench/dat_model_table.py --params /tmp/ffn5_s1.params > table.md
"""
import argparse
import collections
import statistics

import jsonl_sweep

# The authors' logged runs (THPCILab/DAT_MPNN, F-MNIST, 3 x 64-mode meshes):
# error-free, deployed, PAT, DAT.
PAPER = {"dat 0.04": (0.860, 0.622, 0.736, 0.847), "dat 0.06": (0.860, 0.543, 0.654, 0.786)}


def chips(args):
    for sigma in filter(None, args.sigmas.split(",")):
        yield "dat", ["--noise", "dat", "--sigma", sigma], f"dat {float(sigma):g}"
    for scale in filter(None, args.paper_scales.split(",")):
        yield "paper", ["--noise", "paper", "--noise-scale", scale], f"paper {float(scale):g}"


def name(row):
    if row["noise"] == "dat":
        return f"dat {row['sigma']:g}"
    return f"paper {row['noise_scale']:g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="deploy/models/ffn5_gift.textproto")
    parser.add_argument("--params", required=True)
    parser.add_argument("--sigmas", default="0.04,0.06")
    parser.add_argument("--paper-scales", default="5,10")
    parser.add_argument("--chip-seeds", default="1,2,3")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--results", default="/tmp/dat_model_table.jsonl")
    args = parser.parse_args()
    finished = jsonl_sweep.done(args.results, "dat", lambda r: (name(r), r["chip_seed"]))
    for _, flags, chip in chips(args):
        for seed in args.chip_seeds.split(","):
            if (chip, int(seed)) in finished:
                continue
            command = [f"{args.build}/tests/bench/gift_bench", "--model", args.model,
                       "--params", args.params, "--methods", "pat,dat", "--chip-seed", seed,
                       "--steps", str(args.steps), "--test", str(args.test)] + flags
            jsonl_sweep.run(command, args.results)
    cells = collections.defaultdict(lambda: collections.defaultdict(list))
    for row in sorted(jsonl_sweep.rows(args.results), key=lambda r: r["chip_seed"]):
        cell = cells[name(row)]
        if row["stage"] == "deployed":
            cell["error-free"].append(row["in_silico"])
        cell[row["stage"]].append(row["accuracy"])
        if row["stage"] in ("pat", "dat"):
            cell[row["stage"] + " wall"].append(row["wall_s"])
    print("| chip | error-free | deployed | PAT | DAT | DAT − PAT | paper (error-free / "
          "deployed / PAT / DAT) |")
    print("|---|---|---|---|---|---|---|")
    for chip, cell in sorted(cells.items()):
        def show(stage):
            values = cell[stage]
            if not values:
                return "–"
            each = " / ".join(f"{v:.3f}" for v in values)
            return f"{each} ({statistics.mean(values):.3f})"
        margin = (statistics.mean(cell["dat"]) - statistics.mean(cell["pat"])
                  if cell["dat"] and cell["pat"] else float("nan"))
        paper = " / ".join(f"{v:.3f}" for v in PAPER[chip]) if chip in PAPER else "–"
        print(f"| {chip} | {statistics.mean(cell['error-free']):.3f} | {show('deployed')} | "
              f"{show('pat')} | {show('dat')} | {margin:+.3f} | {paper} |")


if __name__ == "__main__":
    main()
