#!/usr/bin/python3
"""Clang's thread-safety analysis over the project's own sources.

Every C++ file of the daemon, drivers, simulator and trainers is compiled by
clang++ with -fsyntax-only -Wthread-safety -Werror, using the include paths
and definitions of the main (GCC) build's compile_commands.json. Members that
a mutex guards are marked ABSL_GUARDED_BY; a read or write without the lock,
or a call to an ABSL_EXCLUSIVE_LOCKS_REQUIRED function without it, fails.

  tests/lint/thread_safety.py BUILD_DIR [--jobs N]
Prints one line per file with findings and a JSON summary; exit 1 on findings.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys

CHECKED = ("daemon/", "drivers/", "sim/", "trainers/", "base/")
# GCC-only or warning flags of the main build, replaced by the analysis's own.
DROPPED_PREFIXES = ("-W", "-fdiagnostics-color", "-fconcepts-diagnostics-depth")


def clang_command(entry, clangxx):
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out = [clangxx]
    skip = False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        if arg == "-o":
            skip = True
            continue
        if arg == "-c" or arg.startswith(DROPPED_PREFIXES):
            continue
        out.append(arg)
    return out + ["-fsyntax-only", "-Wthread-safety", "-Wthread-safety-reference", "-Werror"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("--jobs", type=int, default=2)
    options = parser.parse_args()
    clangxx = shutil.which("clang++")
    if clangxx is None:
        print("thread_safety: clang++ not found (deploy/install-deps.sh installs clang)")
        return 2
    with open(os.path.join(options.build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    source_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    checked = []
    for entry in entries:
        relative = os.path.relpath(os.path.join(entry["directory"], entry["file"]), source_root)
        if relative.startswith(CHECKED):
            checked.append((relative, entry))

    def analyse(item):
        relative, entry = item
        run = subprocess.run(clang_command(entry, clangxx), cwd=entry["directory"],
                             capture_output=True, text=True)
        return relative, run.returncode, run.stderr

    failures = []
    with concurrent.futures.ThreadPoolExecutor(options.jobs) as pool:
        for relative, code, stderr in pool.map(analyse, sorted(checked)):
            if code != 0:
                failures.append(relative)
                print(f"== {relative}\n{stderr}", file=sys.stderr)
    print(json.dumps({"files": len(checked), "failed": failures}))
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
