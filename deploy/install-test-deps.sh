#!/usr/bin/env bash
# Installs the Debian packages only the tests use (not the daemon or its
# clients): a real Prometheus server and promtool for the metrics tests,
# headless Chromium for the dashboard test, openssl for the TLS tests.
# Idempotent and non-interactive.
set -euo pipefail

packages=(prometheus chromium openssl)

exec "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" install-test-deps "${packages[@]}"
