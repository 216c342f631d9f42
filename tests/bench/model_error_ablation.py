#!/usr/bin/python3
"""Which of a fabricated chip's errors costs a deployed model how much, and
what is left of each after calibration and in situ programming: the
model's parameters (model_bench --save) deployed through the daemon's
controller on simulated chips that have one error source at a time (the
instruments of onn_svd8x24 otherwise ideal: no fabrication spread,
crosstalk or drift), measured as deployed with the nominal phase model,
then programmed in situ (docs/models.md), then calibrated (heater
efficiencies) and programmed. Prints markdown.

  build/tests/bench/model_bench --model deploy/models/mlp_64_24_24_10.textproto \\
      --realisation optical --seed 1 --save /tmp/mlp_s1.params
  /usr/bin/python3 tests/bench/model_error_ablation.py --params /tmp/mlp_s1.params --test 2000
"""
import argparse
import json
import subprocess
import tempfile

SOURCES = [
    ("none", "", {}),
    ("random phase bias", "fabrication { random_phase_bias: true }", {}),
    ("thermal crosstalk 3 % nearest", "", {"crosstalk_nearest: 0.0": "crosstalk_nearest: 0.03"}),
    ("heater efficiency spread 5 %", "fabrication { efficiency_spread: 0.05 }", {}),
    ("heater resistance spread 5 %", "fabrication { resistance_spread: 0.05 }", {}),
    ("insertion loss 0.2 ± 0.05 dB per MZI",
     "fabrication { insertion_loss_db_mean: 0.2 insertion_loss_db_std: 0.05 }", {}),
    ("coupler splitting error 0.015 rad", "fabrication { splitting_error_std_rad: 0.015 }", {}),
    ("responsivity 3 % / dark current 20 %",
     "fabrication { responsivity_spread: 0.03 dark_current_spread: 0.2 }", {}),
    ("temperature drift 0.07 rad/K", "", {"phase_drift_rad_per_k: 0.0": "phase_drift_rad_per_k: 0.07"}),
    ("all of them (onn_svd8x24)", None, {}),
]


def ideal_instruments(text):
    start = text.index("fabrication {")
    end = text.index("}", start)
    text = text[:start] + "fabrication { }" + text[end + 1:]
    return (text.replace("crosstalk_nearest: 0.03", "crosstalk_nearest: 0.0")
            .replace("phase_drift_rad_per_k: 0.07", "phase_drift_rad_per_k: 0.0"))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="deploy/models/mlp_64_24_24_10.textproto")
    parser.add_argument("--params", required=True)
    parser.add_argument("--test", default="2000")
    parser.add_argument("--chip-seed", default="1")
    parser.add_argument("--bench", help="model_deploy_bench (default: BUILD/tests/bench/...)")
    args = parser.parse_args()
    original = open("deploy/chips/onn_svd8x24.textproto").read()
    base = ideal_instruments(original)
    print(f"| error source (alone; test {args.test}, chip seed {args.chip_seed}) "
          "| deployed, nominal model | programmed in situ | calibrated, programmed in situ |")
    print("|---|---|---|---|")
    for name, fabrication, replacements in SOURCES:
        if fabrication is None:
            text = original
        else:
            text = base.replace("fabrication { }", fabrication or "fabrication { }")
            for old, new in replacements.items():
                text = text.replace(old, new)
        with tempfile.NamedTemporaryFile("w", suffix=".textproto") as chip:
            chip.write(text)
            chip.flush()
            out = subprocess.run(
                [args.bench or f"{args.build}/tests/bench/model_deploy_bench", "--model", args.model, "--params",
                 args.params, "--test", args.test, "--chip-seed", args.chip_seed, "--instruments",
                 chip.name, "--skip-references"], check=True, capture_output=True,
                text=True).stdout
        rows = {r["stage"]: r for r in map(json.loads, out.splitlines())}
        if name == "none":
            print(f"| (in silico model) | {rows['in_silico']['accuracy']:.4f} | | |")
        stages = ("fabricated_uncalibrated", "fabricated_programmed_in_situ",
                  "fabricated_calibrated_programmed_in_situ")
        print(f"| {name} | " + " | ".join(f"{rows[s]['accuracy']:.4f}" for s in stages) + " |",
              flush=True)


if __name__ == "__main__":
    main()
