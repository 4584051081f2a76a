#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, fetches the two test models, builds with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-models.sh all
cmake -S . -B build-test -DQUIPU_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure -j"$(nproc)"
