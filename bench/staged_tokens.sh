#!/usr/bin/env bash
# How much work the full staged benchmark set is, for the time estimates of docs/cluster.md
# ("How long a run takes, on paper"): the tokens quipu runs through a model per item of each
# benchmark (prompts shared by the choices counted once, as quipu runs them; manifest.json's
# tokens_processed), measured on a spread sample of every staged benchmark with the tiny Llama
# test checkpoint (its weights do not matter; its tokenizer is Llama 2's SentencePiece, 32,000
# ids), then scaled to each benchmark's full item count. Then the time a model of P parameters
# takes for them at a given share of a GPU's bf16 peak (MFU): 2 P FLOPs per token.
# usage: bench/staged_tokens.sh QUIPU_BIN [OUT.md]      (SAMPLE items per benchmark, default 150)
#   env: QUIPU_DATASETS (default ../shared/datasets), LLAMA_TOKENIZER (a folder with tokenizer.json,
#        default ../shared/tokenizers/llama-spm)
set -euo pipefail
bin="$(realpath "$1")"
out="${2:-results/bench/staged-tokens.md}"
cd "$(dirname "$0")/.."
datasets="${QUIPU_DATASETS:-$(cd .. && pwd)/shared/datasets}"
tokdir="${LLAMA_TOKENIZER:-$(cd .. && pwd)/shared/tokenizers/llama-spm}"
sample="${SAMPLE:-150}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r tests/models/tiny-llama "$tmp/model"
cp "$tokdir/tokenizer.json" "$tmp/model/"
# benchmark and its full item count in a run (quipu list benchmarks; seegull: 2,189 tuples x 2 templates)
benches="crows_pairs_en:1508 crows_pairs_fr:1677 bbq:17628 mbbq_en:10088 mbbq_es:10088 esbbq:27320 cabbq:27344 sesgo:4156
stereoset_intra:2106 stereoset_inter:2123 kobbq:2280 seegull:4378 blend:10088"
: > "$tmp/counts.tsv"
for bn in $benches; do
  b="${bn%%:*}" n="${bn##*:}"
  cat > "$tmp/$b.yaml" <<YAML
name: tokens-$b
output: $tmp/out-$b
datasets_dir: $datasets
models:
  - {path: $tmp/model, name: tiny-llama}
benchmarks:
  - {name: $b, limit: $sample, sample: spread}
metrics: {bootstrap: 0}
YAML
  "$bin" run "$tmp/$b.yaml" --fresh > "$tmp/$b.log" 2>&1 || { echo "$b: $(tail -1 "$tmp/$b.log")" >&2; exit 1; }
  python3 - "$tmp/out-$b" "$b" "$n" >> "$tmp/counts.tsv" <<'PY'
import json, subprocess, sys
d, b, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = json.load(open(f"{d}/manifest.json"))
items = len(subprocess.run(["zstd", "-dc", f"{d}/items.jsonl.zst"], check=True, capture_output=True).stdout.splitlines())
print(f"{b}\t{items}\t{m['tokens_processed']}\t{n}")
PY
done
python3 - "$tmp/counts.tsv" "$sample" "$(git rev-parse --short=12 HEAD)" > "$out" <<'PY'
import datetime, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
print("# The staged benchmark set: tokens per run of one model\n")
print(f"`bench/staged_tokens.sh` ({datetime.date.today()}, quipu {sys.argv[3]}): {sys.argv[2]} items of each benchmark "
      "(`sample: spread`) scored with the tiny Llama test checkpoint, Llama 2's SentencePiece tokenizer (32,000 ids); "
      "tokens are what quipu runs through the model (manifest.json `tokens_processed`: a prompt shared by its "
      "choices counted once), scaled to each benchmark's full item count.\n")
print("| benchmark | items sampled | tokens per item | items in a full run | tokens in a full run |")
print("|---|---|---|---|---|")
tot_items = tot = 0
for b, k, t, n in rows:
    per = int(t) / int(k)
    tot += per * int(n)
    tot_items += int(n)
    print(f"| {b} | {k} | {per:.1f} | {int(n):,} | {per * int(n) / 1e6:.2f} M |")
print(f"| **all** | | {tot / tot_items:.1f} | {tot_items:,} | **{tot / 1e6:.2f} M** |\n")
print("On paper, time = tokens × 2 P FLOPs ÷ (GPUs × bf16 peak × MFU), H100 SXM bf16 dense peak 989 TFLOP/s; "
      "attention adds a few per cent at these lengths (under 250 tokens per item), loading the weights comes on top. "
      "MFU 50% is the GPU issue's target on long packed batches, 25% a pessimistic figure for small models and "
      "tensor-parallel members; neither is measured yet (bench/gpu.py on a GPU gives the real tokens/s).\n")
print("| model | GPUs | at 50% MFU | at 25% MFU |")
print("|---|---|---|---|")
for name, p, g in (("1B (Llama-3.2-1B shape)", 1.24e9, 1), ("8B (Llama-3.1-8B shape)", 8.03e9, 1), ("70B (Llama-3.1-70B shape), tensor_parallel 4", 70.6e9, 4)):
    t = [tot * 2 * p / (g * 989e12 * m) for m in (0.5, 0.25)]
    print(f"| {name} | {g} × H100 | {t[0] / 60:.1f} min | {t[1] / 60:.1f} min |")
# an overnight sweep: 20 models of 200 B parameters in all, in node-hours of 4 GPUs
t = [tot * 2 * 200e9 / (989e12 * m) / 3600 / 4 for m in (0.5, 0.25)]
print(f"| 20-model sweep, 200 B parameters in all | node-hours of 4 × H100 | {t[0]:.1f} | {t[1]:.1f} |")
PY
echo "wrote $out" >&2
