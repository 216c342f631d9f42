#!/usr/bin/env bash
# Installs every Debian package photonicd needs to build, test and run.
# Idempotent and non-interactive; safe to run on a fresh Debian bookworm machine.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format clang
  libboost-dev libeigen3-dev libspdlog-dev libfmt-dev
  libprotobuf-dev protobuf-compiler
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libserialport-dev libcli11-dev zlib1g-dev libsleef-dev prometheus-cpp-dev libssl-dev
  dataset-fashion-mnist
  python3 python3-grpcio python3-protobuf python3-matplotlib systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
