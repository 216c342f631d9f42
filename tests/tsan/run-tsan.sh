#!/usr/bin/env bash
# ThreadSanitizer run of the daemon: builds photonicd, photonctl, photonsim,
# the daemon unit tests and the end-to-end tests with clang -fsanitize=thread
# into a build directory of their own, then runs them. A data race or lock
# order inversion fails the run (halt_on_error).
#   tests/tsan/run-tsan.sh [BUILD_DIR]   (default: build-tsan)
# Prints a JSON summary line; exit status 0 when every test passed clean.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${1:-$root/build-tsan}
if ! command -v clang++ >/dev/null; then
  echo "run-tsan: clang++ not found (deploy/install-deps.sh installs clang)" >&2
  exit 2
fi
start=$(date +%s)
# Debian's gRPC, protobuf and abseil are not instrumented: their own
# synchronisation is invisible to TSan. tsan.supp names the reports that come
# from inside them; races in our code are never suppressed.
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DPHC_NATIVE=OFF -DPHC_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build_dir" -j 2 --target daemon_test daemon_e2e_test training_e2e_test \
  serial_e2e_test photonicd photonctl photonsim
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan/tsan.supp"
cd "$build_dir"
status=0
./tests/daemon_test --gtest_brief=1 || status=$?
ctest --output-on-failure --timeout 900 -L e2e || status=$?
printf '{"tsan": "%s", "seconds": %d}\n' "$([[ $status == 0 ]] && echo clean || echo failed)" \
  $(( $(date +%s) - start ))
exit "$status"
