#!/usr/bin/env bash
# fuzz-ci.sh [SECONDS] — every libFuzzer target of tests/fuzz for SECONDS (default 30), as the
# test command runs them: builds the fuzz targets alone with clang (ASan + UBSan + libFuzzer, in
# $QUIPU_FUZZ_BUILD, default build-fuzz), makes the seeds, then runs all eight at once (each
# for SECONDS of wall time: on two cores each gets a quarter of one, which is what CI's time
# allows; the hour-long runs are in results/fuzz/). One line per target with its executions;
# exit 1 if any target found a crash, a leak, a sanitizer report or a timeout (its input is in
# BUILD/fuzz-artifacts/, its log in BUILD/fuzz-logs/). Without clang or libFuzzer it says
# "skipped" and exits 0, unless QUIPU_REQUIRE_FUZZ=1 (CI), where that is an error.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-30}"
build="${QUIPU_FUZZ_BUILD:-$here/build-fuzz}"
targets=(gguf gguf_model safetensors_model config_yaml data_rows journal tokenizer_json template)
skip() {
  if [ "${QUIPU_REQUIRE_FUZZ:-}" = 1 ]; then echo "fuzz: $1 (required here: QUIPU_REQUIRE_FUZZ=1)" >&2; exit 1; fi
  echo "fuzz: skipped: $1"
  exit 0
}
command -v clang > /dev/null || skip "no clang (apt-get install clang libclang-rt-dev, or scripts/install-deps.sh --fuzz)"
# libFuzzer's runtime is a separate package on some distributions (Debian 12: libclang-rt-14-dev)
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' > "$probe/p.c"
clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2> "$probe/err" || { rm -rf "$probe"; skip "clang cannot link libFuzzer (its runtime package, e.g. libclang-rt-14-dev, is missing)"; }
rm -rf "$probe"
t0=$(date +%s)
CC=clang cmake -S "$here" -B "$build" -DQUIPU_FUZZ=ON -DQUIPU_SANITIZE=ON -DQUIPU_MPI=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build.cmake.log" 2>&1 ||
  { cat "$build.cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" > "$build.build.log" 2>&1 || { tail -30 "$build.build.log" >&2; exit 1; }
# the seeds once, before the eight runs start (each would otherwise make them itself)
[ -d "$build/fuzz-seeds" ] || python3 "$here/scripts/make-fuzz-seeds.py" "$build/fuzz-seeds" "${QUIPU_SHARED:-$here/../shared}" > /dev/null
t1=$(date +%s)
mkdir -p "$build/fuzz-logs"
pids=()
for t in "${targets[@]}"; do
  QUIPU_FUZZ_BUILD="$build" bash "$here/scripts/fuzz.sh" "$t" "$secs" > "$build/fuzz-logs/$t.log" 2>&1 &
  pids+=($!)
done
fails=0
for i in "${!targets[@]}"; do
  t="${targets[$i]}"
  rc=0
  wait "${pids[$i]}" || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-logs/$t.log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t: ${execs:-?} executions in ${secs} s, no crash"
  else
    fails=$((fails + 1))
    echo "fuzz: $t: FAILED (exit $rc), $build/fuzz-logs/$t.log:" >&2
    grep -a -m3 -E "ERROR|SUMMARY|Test unit written" "$build/fuzz-logs/$t.log" >&2 || tail -5 "$build/fuzz-logs/$t.log" >&2
  fi
done
echo "fuzz: ${#targets[@]} targets, $fails failed; build $((t1 - t0)) s, runs $(($(date +%s) - t1)) s"
[ "$fails" -eq 0 ]
