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
for opt in "$@"; do
  case "$opt" in
  --kernels) # Debian's hipcc, to compile the GPU kernels for AMD (gfx90a) as CI does
    if apt-cache show hipcc >/dev/null 2>&1; then
      $SUDO apt-get install -y -qq --no-install-recommends hipcc >/dev/null
    else
      echo "install-deps: hipcc is not in this distribution's packages; the HIP compile check will say skipped"
    fi ;;
  --fuzz) # clang and its libFuzzer runtime, for scripts/fuzz-ci.sh (a package of its own on Debian 12)
    $SUDO apt-get install -y -qq --no-install-recommends clang >/dev/null
    major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
    for pkg in "libclang-rt-$major-dev" libclang-rt-dev; do
      if apt-cache show "$pkg" >/dev/null 2>&1; then
        $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
        break
      fi
    done ;;
  *) echo "install-deps: unknown option $opt (--kernels, --fuzz)" >&2; exit 2 ;;
  esac
done
echo "install-deps: done"
