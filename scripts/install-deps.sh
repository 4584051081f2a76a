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
  libpcre2-dev libutf8proc-dev libjansson-dev libyaml-dev libzstd-dev \
  libopenmpi-dev openmpi-bin \
  python3 python3-pip unzip zstd >/dev/null
# --kernels: Debian's hipcc, to compile the GPU kernels for AMD (gfx90a) as CI does
if [ "${1:-}" = "--kernels" ]; then
  if apt-cache show hipcc >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends hipcc >/dev/null
  else
    echo "install-deps: hipcc is not in this distribution's packages; the HIP compile check will say skipped"
  fi
fi
echo "install-deps: done"
