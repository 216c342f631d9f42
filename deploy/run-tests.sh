#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

# Test-only tools first: the build's configure step looks for promtool.
"$root/deploy/install-test-deps.sh"
"$root/deploy/build.sh"
cd "$build_dir"
ctest --output-on-failure --timeout 300
