#!/usr/bin/python3
"""Markdown tables from dfa_bench JSON lines.

    build/tests/bench/dfa_bench --epochs 10 --seed 1 > dfa_s1.jsonl   # and seeds 2, 3
    tests/bench/dfa_table.py dfa_s1.jsonl dfa_s2.jsonl dfa_s3.jsonl > table.md

Per method: the test accuracy of the best-validation epoch per seed and
their mean, the mean angle between the hidden-layer update and the true
gradient over the last epoch, wall time per run. Then the microring bank's
precision per seed.
"""
import json
import statistics
import sys

METHODS = ["bp", "dfa_digital", "dfa_noise", "dfa_microring"]


def main():
    summaries, epochs, banks = [], [], []
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if "summary" in record:
                    summaries.append(record["summary"])
                elif "microring_bank" in record:
                    banks.append((path, record["microring_bank"]))
                elif "epoch" in record:
                    epochs.append(record)
    print("| method | test accuracy per seed (best-validation epoch) | mean | "
          "angle to BP, last epoch (deg) | epochs | wall s per run |")
    print("|---|---|---|---|---|---|")
    for method in METHODS:
        runs = sorted((s for s in summaries if s["method"] == method), key=lambda s: s["seed"])
        if not runs:
            continue
        per_seed = ", ".join(f"{s['test_accuracy']:.4f} (s{s['seed']}, ep {s['best_epoch']})"
                             for s in runs)
        last = [e for e in epochs if e["method"] == method and e["epoch"] == runs[0]["epochs"]]
        angle = (f"{statistics.mean(e['angle_to_bp_deg'] for e in last):.1f}"
                 if method != "bp" and last else "0")
        print(f"| {method} | {per_seed} | "
              f"{statistics.mean(s['test_accuracy'] for s in runs):.4f} | {angle} | "
              f"{runs[0]['epochs']} | {statistics.mean(s['wall_s'] for s in runs):.0f} |")
    print()
    print("| run | weight rms error | median abs error | rings off by > 0.05 | "
          "product error mean, std (x max abs e) | product effective bits | "
          "paper model effective bits |")
    print("|---|---|---|---|---|---|---|")
    for path, b in banks:
        print(f"| {path} | {b['weight_rms_error']:.4f} | "
              f"{b.get('weight_median_abs_error', float('nan')):.5f} | "
              f"{b.get('rings_off_by_more_than_0_05', '-')} of {b['rings']} | "
              f"{b['product_error_mean_over_max_e']:.4f}, {b['product_error_std_over_max_e']:.3f} | "
              f"{b['product_effective_bits']:.2f} | {b['paper_model_effective_bits']:.2f} |")


if __name__ == "__main__":
    main()
