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

exec "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" install-deps "${packages[@]}"
