#!/usr/bin/env bash
# Builds the libFuzzer targets for the serial reply parsers with clang
# (AddressSanitizer + UndefinedBehaviorSanitizer) and runs each for a
# bounded time.
#   tests/fuzz/run-fuzzers.sh [SECONDS_PER_TARGET] [OUT_DIR]
# Prints one JSON line per target: {"target", "seconds", "executions", "crashes"}.
# Exit status: 0 when no target found a crash, 1 otherwise, 2 when clang is missing.
set -euo pipefail
seconds=${1:-30}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${2:-$root/build/fuzz}
if ! command -v clang++ >/dev/null; then
  echo "run-fuzzers: clang++ not found (deploy/install-deps.sh installs clang)" >&2
  exit 2
fi
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/drivers/include" -I"$root/drivers/testing" -I"$root/base/include")
libs=$(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format)
sources=("$root/drivers/serial/qontrol.cc" "$root/drivers/serial/scpi.cc"
         "$root/drivers/serial/reply_parsing.cc" "$root/drivers/testing/fake_transport.cc"
         "$root/drivers/link_health.cc")
status=0
for target in qontrol_reply_fuzzer scpi_reply_fuzzer; do
  # shellcheck disable=SC2086
  clang++ "${flags[@]}" "$root/tests/fuzz/$target.cc" "${sources[@]}" $libs -o "$out/$target"
  corpus="$out/$target.corpus"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/seeds/${target%%_*}"/* "$corpus"/ 2>/dev/null || true
  log="$out/$target.log"
  if "$out/$target" -max_total_time="$seconds" -max_len=512 -timeout=5 \
      -artifact_prefix="$out/$target-" "$corpus" >"$log" 2>&1; then
    crashes=0
  else
    crashes=1
    status=1
    tail -30 "$log" >&2
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' ||
          grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  printf '{"target": "%s", "seconds": %s, "executions": %s, "crashes": %s}\n' \
    "$target" "$seconds" "${execs:-0}" "$crashes"
done
exit $status
