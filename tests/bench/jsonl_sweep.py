"""Resumable sweeps for the bench table scripts: each run of a bench
appends its JSON lines to one results file, and a run whose last stage is
already there is skipped, so an interrupted sweep resumes where it stopped.
"""
import json
import os
import subprocess
import sys
import time


def rows(results):
    """Every JSON line of the results file (none if it does not exist)."""
    if not os.path.exists(results):
        return []
    with open(results) as f:
        return [json.loads(line) for line in f if line.strip()]


def done(results, last_stage, key):
    """The keys (key(row)) of the runs whose last stage is in the file."""
    return {key(row) for row in rows(results) if row["stage"] == last_stage}


def run(command, results, log=None):
    """Runs a bench, appends its stdout to the results; its stderr (the
    bench's progress) goes to `log` when given."""
    print("running", " ".join(command), file=sys.stderr)
    start = time.time()
    if log is None:
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    else:
        with open(log, "w") as progress:
            out = subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=progress,
                                 text=True).stdout
    print(f"  {time.time() - start:.0f} s" + (f", progress in {log}" if log else ""),
          file=sys.stderr)
    with open(results, "a") as f:
        f.write(out)
