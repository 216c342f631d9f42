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
  --state-dir "$work/state" --http-listen 127.0.0.1:0 \
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
echo "   Asking for 6.25 rad (~1.99 pi) on all 56 phases needs ~2.5 W (~2.9 W at the"
echo "   worst-case heater resistance PowerGuard assumes, R (1 - 3 sigma)), over the 2.5 W budget:"
echo "   photonicd refuses the whole request and changes nothing."
phases=$(for _ in $(seq 56); do printf '6.25 '; done)
# shellcheck disable=SC2086
ctl set-phases $phases || echo "   (refused as expected, exit status $?)"
printf '\n== The chip is unchanged\n$ photonctl get-phases | tail -1\n'
ctl get-phases | tail -1

echo
echo "   Program a Haar-random 8x8 unitary with the nominal heater model and measure"
echo "   how close the chip gets (fidelity of the output power distributions)."
step "Uncalibrated" program-unitary --seed 1
echo
echo "   Calibrate: heater sweeps give each heater's efficiency; the mesh is then"
echo "   peeled column by column (later columns at bar, each MZI's fringe read on its"
echo "   own two detectors) for the phase biases, and 48 random configurations polish"
echo "   biases, efficiencies and the thermal crosstalk in a fit to a model of the mesh."
step "Calibration" calibrate
step "Calibrated" program-unitary --seed 1
echo
echo "   Phases now mean what they say: all 56 phases at 0 puts every MZI in its cross"
echo "   state, so input 0 leaves at output 7."
zeros=$(for _ in $(seq 56); do printf '0 '; done)
# shellcheck disable=SC2086
ctl set-phases $zeros >/dev/null
ctl set-inputs 1 0 0 0 0 0 0 0 >/dev/null
step "Detector readings" read --averages 16
echo
echo "   Train on the chip, inside the daemon: an 8x8 optical neural network (the"
echo "   mesh, |.|^2 detection, softmax) on 8 Fashion-MNIST classes reduced to their"
echo "   8 lowest spatial frequencies, with power-aware sparse zeroth-order"
echo "   training (Gu et al., AAAI 2021). Every query is a direct call to the chip"
echo "   controller, not an RPC. The session holds the chip's write lease while it runs."
step "On-chip training" train start --widths 8,8 --steps 300 --lr 0.1 \
  --param-sparsity 0.3 --grad-sparsity 0.5 --train-samples 2000 --test-samples 500 --seed 1
echo
echo "   In silico -> in situ: pretrain a three-block ONN (the mesh time-multiplexed,"
echo "   detection and re-encoding between blocks, a digital readout) on the ideal"
echo "   model, then adapt it on the calibrated chip by dual adaptive training (Zheng"
echo "   et al., 2023): the chip runs every forward pass, a model with learned"
echo "   error predictions supplies the gradients."
step "In situ training (DAT)" train start --algorithm dat --widths 8,8,8,10 --steps 300 \
  --eval-every 100 --train-samples 5000 --test-samples 500 --pretrain-epochs 10 --seed 1
step "Sessions" train list
until grep -q "http on" "$work/photonicd.out" 2>/dev/null; do sleep 0.1; done
http=$(sed -n 's/^photonicd: http on //p' "$work/photonicd.out")
echo
echo "   The same daemon serves a dashboard at http://$http/ (docs/dashboard.md) and"
echo "   Prometheus metrics at http://$http/metrics (docs/metrics.md):"
printf '$ GET http://%s/metrics  (excerpt)\n' "$http"
/usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "http://$http/metrics" | grep -E "^photonicd_(heater_power_(total|budget)|query_configurations|power_guard_refusals)"
printf '\n== Stopping photonicd with SIGTERM\n'
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?

trap 'rm -rf "$work"' EXIT
cat "$work/photonicd.log"
echo "photonicd exited with status $status"
echo
echo "   The same daemon on serial instruments: photonsim serves the simulated chip's"
echo "   Qontrol-compatible heater and modulator drivers, SCPI ADC and TEC on"
echo "   pseudo-terminals; photonicd talks to them with backend: BACKEND_SERIAL."
mkfifo "$work/photonsim.in"
"$build_dir/sim/photonsim" --chip "$root/deploy/chips/clements8.textproto" --seed 1 \
  --link "$work" <"$work/photonsim.in" >"$work/photonsim.out" 2>&1 &
sim_pid=$!
exec 7>"$work/photonsim.in"  # keeps photonsim's stdin open for fault commands
until grep -q "photonsim: ready" "$work/photonsim.out" 2>/dev/null; do sleep 0.1; done
cat "$work/photonsim.out"
cat >"$work/serial.textproto" <<CFG
chip_file: "$root/deploy/chips/clements8.textproto"
backend: BACKEND_SERIAL
serial { heaters: "heaters" modulators: "modulators" adc: "adc" tec: "tec" }
CFG
serial_socket="unix:$work/serial.sock"
"$build_dir/daemon/photonicd" --config "$work/serial.textproto" --listen "$serial_socket" \
  >"$work/serial.out" 2>"$work/serial.log" &
serial_pid=$!
until grep -q "listening" "$work/serial.out" 2>/dev/null; do sleep 0.1; done
sctl() { "$build_dir/clients/cli/photonctl" --address "$serial_socket" "$@"; }
printf '\n$ photonctl info | head -2\n'; sctl info | head -2
printf '$ photonctl set-inputs 1 0 0 0 0 0 0 0 && photonctl read\n'
sctl set-inputs 1 0 0 0 0 0 0 0 >/dev/null
sctl read
echo
echo "   Unplug the ADC (photonsim closes its pty): requests fail with UNAVAILABLE"
echo "   naming it, health goes NOT_SERVING, the heaters go to 0 V; plugged back in,"
echo "   photonicd reconnects by itself."
echo "unplug adc 1500" >&7
sleep 0.3
sctl read || echo "   (UNAVAILABLE as expected)"
until sctl read >/dev/null 2>&1; do sleep 0.2; done
echo "   reconnected (the chip was driven to its safe state: inputs dark, heaters at 0 V):"
sctl read | head -3
kill -TERM "$serial_pid" "$sim_pid"
wait "$serial_pid" || true
exec 7>&-
grep -E "NOT_SERVING|SERVING|restored" "$work/serial.log" || true
exit "$status"
