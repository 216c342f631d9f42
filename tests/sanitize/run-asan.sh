#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the whole daemon under
# load and faults: builds photonicd, photonsim and photonicd_soak with
# -fsanitize=address,undefined into a build directory of their own and runs
# the 60-second soak against them. A memory error, a leak at exit or
# undefined behaviour aborts the daemon, and the soak reports it (a SIGTERM
# exit that is not 0, or a daemon that dies).
#   tests/sanitize/run-asan.sh [SECONDS] [BUILD_DIR]   (default: 60, build-asan)
# Prints the soak's JSON and a summary line; exit status 0 when clean.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
build_dir=${2:-$root/build-asan}
start=$(date +%s)
# Standalone on a fresh machine too: the compiler, gRPC, ... (idempotent).
"$root/deploy/install-deps.sh"
# -g1: line tables only. Reports keep their file:line stacks; the build is
# faster than with full debug info (CI runs two of these builds).
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHC_NATIVE=OFF \
  -DPHC_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build_dir" -j 2 --target photonicd photonsim photonicd_soak
export ASAN_OPTIONS="abort_on_error=1 detect_leaks=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1"
status=0
"$build_dir/tests/soak/photonicd_soak" --seconds "$seconds" --json "$build_dir/soak-asan.json" \
  || status=$?
printf '{"asan_ubsan_soak": "%s", "seconds": %d}\n' \
  "$([[ $status == 0 ]] && echo clean || echo failed)" $(( $(date +%s) - start ))
exit "$status"
