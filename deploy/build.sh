#!/usr/bin/env bash
# Installs dependencies (Debian packages) and builds photonicd into build/.
#   BUILD_DIR   build directory (default: build)
#   BUILD_TYPE  CMake build type (default: RelWithDebInfo)
#   PORTABLE    1: build for the x86-64 baseline, for packaging (default: 0,
#               -march=native: the daemon is built on the machine it runs on)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

"$root/deploy/install-deps.sh"
native=ON
if [[ ${PORTABLE:-0} == 1 ]]; then native=OFF; fi
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DPHC_NATIVE="$native" >/dev/null
# Two cores on the lab and CI machines: never more than two jobs.
cmake --build "$build_dir" -j 2
