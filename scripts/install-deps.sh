#!/usr/bin/env bash
# Installs quipu's build and test dependencies on Debian/Ubuntu (run as root or with sudo).
# On a cluster, load the equivalent modules instead: see docs/install.md.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates \
  libopenblas-dev libpcre2-dev libutf8proc-dev libjansson-dev libyaml-dev libzstd-dev \
  libopenmpi-dev openmpi-bin \
  python3 python3-pip unzip zstd >/dev/null
echo "install-deps: done"
