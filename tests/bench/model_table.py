#!/usr/bin/python3
"""In silico table of the papers'-scale ONN models: for each model and seed,
the ideal optical model (phases of coherent SVD cores) and its digital twin
(free weights of the same shape), trained the same way on the full
Fashion-MNIST (60,000 / 10,000). Runs build/tests/bench/model_bench; prints
markdown, and every JSON line to --jsonl when given.

  /usr/bin/python3 tests/bench/model_table.py --build build > table.md   (~25 min)
"""
import argparse
import collections
import json
import statistics
import subprocess
import sys

MODELS = {"mlp_64_24_24_10": 20, "cnn_fmnist": 20}  # model -> epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, default=0, help="0: the table's defaults")
    parser.add_argument("--jsonl", default="")
    args = parser.parse_args()
    results = collections.defaultdict(list)
    speed = collections.defaultdict(list)
    sink = open(args.jsonl, "w") if args.jsonl else None
    for model in args.models.split(","):
        epochs = args.epochs or MODELS.get(model, 20)
        for seed in args.seeds.split(","):
            command = [f"{args.build}/tests/bench/model_bench", "--model",
                       f"deploy/models/{model}.textproto", "--seed", seed, "--epochs", str(epochs)]
            print("running", " ".join(command), file=sys.stderr, flush=True)
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                row = json.loads(line)
                if sink:
                    print(line, file=sink, flush=True)
                results[(model, row["realisation"])].append(row["test_accuracy"])
                speed[(model, row["realisation"])].append(row["train_samples_per_s"])
    print("| model | realisation | test accuracy (seeds " + args.seeds +
          ") | mean | training samples/s |")
    print("|---|---|---|---|---|")
    for (model, realisation), values in results.items():
        print(f"| {model} | {realisation} | " + " / ".join(f"{v:.4f}" for v in values) +
              f" | {statistics.mean(values):.4f} | {statistics.mean(speed[(model, realisation)]):.0f} |")


if __name__ == "__main__":
    main()
