#!/usr/bin/env bash
# Checks deploy/systemd/photonicd.service with `systemd-analyze verify`,
# its ExecStart pointed at a given photonicd binary (verify requires the
# executable to exist). Usage: verify-unit.sh PHOTONICD_BINARY
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="$(realpath "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/photonicd|$binary|" "$here/photonicd.service" > "$work/photonicd.service"
output="$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$work/photonicd.service" 2>&1)" || {
  echo "$output"
  exit 1
}
# verify returns 0 on some warnings: treat any line about our unit as failure.
if grep -q "photonicd.service" <<<"$output"; then
  echo "$output"
  exit 1
fi
echo "systemd-analyze verify: photonicd.service OK"
