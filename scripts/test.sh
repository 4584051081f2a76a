#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, fetches the two test models, builds with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests with ctest (all but the
# "heavy" label: the full golden comparison, `ctest --test-dir build-test -L heavy`), after
# compiling every GPU kernel (nvcc: sm_80, sm_90; hipcc: gfx90a; scripts/build-kernels.sh) and
# running every libFuzzer target for 30 s (scripts/fuzz-ci.sh; about 80 s in all on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --kernels --fuzz
bash scripts/fetch-models.sh all
cmake -S . -B build-test -DQUIPU_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$(nproc)"
# CI has nvcc (the CUDA 13 toolkit): there a kernel that does not build fails the run
QUIPU_REQUIRE_KERNELS="${CI:+1}" bash scripts/build-kernels.sh
# and there, too, every fuzz target runs (clang and libFuzzer from install-deps.sh --fuzz)
QUIPU_REQUIRE_FUZZ="${CI:+1}" bash scripts/fuzz-ci.sh 30
ctest --test-dir build-test --output-on-failure -j"$(nproc)" -LE heavy
