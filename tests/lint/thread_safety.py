#!/usr/bin/python3
"""Clang's thread-safety analysis over the project's own sources.

Every C++ file of the daemon, drivers, simulator and trainers is compiled by
clang++ with -fsyntax-only -Wthread-safety -Werror, using the include paths
and definitions of the main (GCC) build's compile_commands.json. Members that
a mutex guards are marked ABSL_GUARDED_BY; a read or write without the lock,
or a call to an ABSL_EXCLUSIVE_LOCKS_REQUIRED function without it, fails.

Only translation units that can have findings are compiled: those whose
own files (the source and the project headers it includes, from ninja's
dependency log of the main build) use a thread-safety annotation, our
annotated phc::base::Mutex or absl::Mutex. A unit with none of them cannot
produce a thread-safety warning. Without the log (another generator, a unit
not built yet) or with a file newer than the unit's object, a unit is
compiled; --all compiles every one.

  tests/lint/thread_safety.py BUILD_DIR [--jobs N] [--all]
Prints one line per file with findings and a JSON summary; exit 1 on findings.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

CHECKED = ("daemon/", "drivers/", "sim/", "trainers/", "base/")
# GCC-only or warning flags of the main build, replaced by the analysis's own.
DROPPED_PREFIXES = ("-W", "-fdiagnostics-color", "-fconcepts-diagnostics-depth", "-fvect-cost-model")


# A use of the analysis: an annotation, or a mutex type that carries them.
ANNOTATED = re.compile(
    r"\bABSL_(GUARDED_BY|PT_GUARDED_BY|EXCLUSIVE_LOCKS_REQUIRED|SHARED_LOCKS_REQUIRED|"
    r"LOCKS_EXCLUDED|LOCK_RETURNED|LOCKABLE|SCOPED_LOCKABLE|EXCLUSIVE_LOCK_FUNCTION|"
    r"SHARED_LOCK_FUNCTION|UNLOCK_FUNCTION|EXCLUSIVE_TRYLOCK_FUNCTION|SHARED_TRYLOCK_FUNCTION|"
    r"ASSERT_EXCLUSIVE_LOCK|ASSERT_SHARED_LOCK|ACQUIRED_AFTER|ACQUIRED_BEFORE|"
    r"NO_THREAD_SAFETY_ANALYSIS)\b|\babsl::(Mutex|MutexLock|ReaderMutexLock|WriterMutexLock)\b")


def ninja_dependencies(build_dir):
    """object path -> the files it was compiled from, or None without a log."""
    try:
        run = subprocess.run(["ninja", "-C", build_dir, "-t", "deps"], capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    dependencies, current = {}, None
    for line in run.stdout.splitlines():
        if line and not line[0].isspace():
            current = dependencies.setdefault(line.split(":", 1)[0], [])
        elif line.strip() and current is not None:
            current.append(line.strip())
    return dependencies


def needs_analysis(entry, dependencies, source_root, cache):
    """True unless the log shows none of the unit's project files uses the
    analysis. A unit whose files changed since its object was built (the log
    may miss a new include) is analysed."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    if dependencies is None or "-o" not in args:
        return True
    obj = args[args.index("-o") + 1]
    files = dependencies.get(obj)
    try:
        built = os.path.getmtime(os.path.join(entry["directory"], obj))
    except OSError:
        return True
    if files is None:
        return True
    for path in files:
        real = os.path.realpath(os.path.join(entry["directory"], path))
        if not real.startswith(source_root + os.sep):
            continue  # system headers: absl's mutex is found through its uses
        try:
            if os.path.getmtime(real) > built:
                return True
        except OSError:
            return True
        if real not in cache:
            try:
                with open(real, errors="replace") as f:
                    cache[real] = ANNOTATED.search(f.read()) is not None
            except OSError:
                cache[real] = True
        if cache[real]:
            return True
    return False


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
    parser.add_argument("--all", action="store_true", help="analyse every unit")
    options = parser.parse_args()
    clangxx = shutil.which("clang++")
    if clangxx is None:
        print("thread_safety: clang++ not found (deploy/install-deps.sh installs clang)")
        return 2
    with open(os.path.join(options.build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    source_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dependencies = None if options.all else ninja_dependencies(options.build_dir)
    checked, skipped, cache = [], 0, {}
    for entry in entries:
        relative = os.path.relpath(os.path.join(entry["directory"], entry["file"]), source_root)
        if not relative.startswith(CHECKED):
            continue
        if needs_analysis(entry, dependencies, os.path.realpath(source_root), cache):
            checked.append((relative, entry))
        else:
            skipped += 1

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
    print(json.dumps({"files": len(checked), "without_annotations": skipped,
                      "failed": failures}))
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
