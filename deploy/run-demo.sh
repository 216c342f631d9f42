#!/usr/bin/env bash
# Installs dependencies, builds, starts photonicd on the simulated 8x8 chip
# and walks through a short session with photonctl.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

"$root/deploy/build.sh"

work=$(mktemp -d)
socket="unix:$work/photonicd.sock"
"$build_dir/daemon/photonicd" --config "$root/deploy/photonicd.textproto" --listen "$socket" \
  >"$work/photonicd.out" 2>"$work/photonicd.log" &
daemon_pid=$!
cleanup() {
  kill -TERM "$daemon_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ctl() { "$build_dir/clients/cli/photonctl" --address "$socket" "$@"; }
step() { printf '\n== %s\n$ photonctl %s\n' "$1" "${*:2}"; ctl "${@:2}"; }

step "The chip photonicd serves" info
step "Light into input 0 only" set-inputs 1 0 0 0 0 0 0 0
echo
echo "   Every heater is at 0 V. On an ideal chip every MZI would be in its cross"
echo "   state and input 0 would arrive at output 7 alone. This simulated chip has"
echo "   fabrication errors (random phase biases, coupler errors, 0.2 dB per MZI),"
echo "   thermal crosstalk, settling, shot/thermal noise and a 16-bit ADC: until it"
echo "   is calibrated, the light spreads over several outputs."
step "Detector readings" read --averages 16
echo
echo "   Heat MZI 0's internal phase (phase 0) by pi/2: the daemon converts the phase"
echo "   to a heater voltage, waits for the heater to settle, and the pattern moves."
step "Set one phase by index" set-phases --indices 0 -- 1.5707963
step "Detector readings" read --averages 16
echo
echo "   Asking for 6.25 rad (~1.99 pi) on all 56 phases needs ~2.5 W, over the 1.5 W budget:"
echo "   photonicd refuses the whole request and changes nothing."
phases=$(for _ in $(seq 56); do printf '6.25 '; done)
# shellcheck disable=SC2086
ctl set-phases $phases || echo "   (refused as expected, exit status $?)"
printf '\n== The chip is unchanged\n$ photonctl get-phases | tail -1\n'
ctl get-phases | tail -1

printf '\n== Stopping photonicd with SIGTERM\n'
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
trap 'rm -rf "$work"' EXIT
cat "$work/photonicd.log"
echo "photonicd exited with status $status"
exit "$status"
