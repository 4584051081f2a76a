#!/usr/bin/env bash
# fuzz.sh NAME SECONDS [libFuzzer flags...] — runs the libFuzzer target tests/fuzz/fuzz_NAME for
# SECONDS on its seed corpus (made by scripts/make-fuzz-seeds.py), building the fuzz build first
# if needed (clang, ASan+UBSan, in $QUIPU_FUZZ_BUILD, default build-fuzz). New inputs go to
# BUILD/fuzz-corpus/NAME, crashes to BUILD/fuzz-artifacts/; the exit status is libFuzzer's
# (non-zero on a crash, a leak, a sanitizer report, a timeout or an out-of-memory).
# NAME: gguf gguf_model safetensors_model config_yaml data_rows journal tokenizer_json template
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: fuzz.sh NAME SECONDS}"
secs="${2:?usage: fuzz.sh NAME SECONDS}"
shift 2
build="${QUIPU_FUZZ_BUILD:-$here/build-fuzz}"
if [ ! -x "$build/tests/fuzz/fuzz_$name" ]; then
  command -v clang > /dev/null || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 2; }
  CC=clang cmake -S "$here" -B "$build" -DQUIPU_FUZZ=ON -DQUIPU_SANITIZE=ON -DQUIPU_MPI=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build.cmake.log" 2>&1 || { cat "$build.cmake.log" >&2; exit 2; }
  cmake --build "$build" -j"$(nproc)" --target "fuzz_$name" >&2
fi
seeds="$build/fuzz-seeds/$name"
if [ ! -d "$seeds" ]; then
  python3 "$here/scripts/make-fuzz-seeds.py" "$build/fuzz-seeds" "${QUIPU_SHARED:-$here/../shared}" >&2
fi
corpus="$build/fuzz-corpus/$name"
mkdir -p "$corpus" "$build/fuzz-artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$build/tests/fuzz/fuzz_$name" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=262144 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" "$@" "$corpus" "$seeds"
