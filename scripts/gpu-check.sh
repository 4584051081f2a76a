#!/usr/bin/env bash
# The one script to run on a GPU machine (about 5 minutes on one H100): builds quipu with CUDA,
# runs test_backend_ops (every op on the GPU against its scalar reference, and batch
# invariance), times attention's fp32 kernel against its tensor-core kernel (bench/attention.c),
# then end to end on the real models: quipu score on the GPU (dtype f32, the exact
# mode) against the CPU backend over CrowS-Pairs (en) and French CrowS-Pairs sentences, per token
# within 1e-4, and bit-identical per item across batch sizes and orders on the GPU, and with the
# host's packing overlapped or not (QUIPU_GPU_OVERLAP=0), in quipu score and quipu run. Writes its
# report to results/bench/gpu-check.md (and to $OUT/ when set, as on the lent device machine).
# Needs: the CUDA toolkit, one GPU, the two models in $QUIPU_MODELS (scripts/fetch-models.sh) and
# the datasets (QUIPU_DATASETS, default ../shared/datasets) or the demo subset in configs/demo/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PATH:/usr/local/cuda/bin"
N="${QUIPU_GPU_CHECK_SENTENCES:-1000}"
MODELS="${QUIPU_MODELS:-$HOME/.cache/quipu/models}"
DATASETS="${QUIPU_DATASETS:-$(cd .. && pwd)/shared/datasets}"
report=results/bench/gpu-check.md
mkdir -p results/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
say() { echo "$*" | tee -a "$report"; }
: > "$report"
say "# gpu-check $(date -u +%Y-%m-%dT%H:%MZ), quipu $(git rev-parse --short=12 HEAD 2>/dev/null || echo '?')"
say ""
say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi absent')"
say "nvcc: $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
say ""
cc_arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
archs="80;90"
case "$cc_arch" in 80|86|89|90|100|120) archs="$cc_arch" ;; esac
t0=$(date +%s)
if ! { cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DQUIPU_MPI=OFF -DQUIPU_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null &&
       cmake --build build-gpu -j"$(nproc)" --target quipu test_backend_ops bench_attention >"$tmp/build.log" 2>&1; }; then
  say "BUILD FAILED:"; tail -30 "$tmp/build.log" | tee -a "$report"; exit 1
fi
say "build: sm_$archs in $(( $(date +%s) - t0 )) s"
say ""
say "## test_backend_ops"
say '```'
./build-gpu/tests/test_backend_ops > "$tmp/ops.log" 2>&1; rc=$?
grep -v '^cpu ' "$tmp/ops.log" | tee -a "$report"
say '```'
[ $rc -eq 0 ] || fails=$((fails + 1))
# the tensor-core attention proves itself on the device before first use and falls back to the
# fp32 kernel with a warning: here that is a failure (its attn-tc rows would test the fallback)
if grep -q "quipu warn: tensor-core attention" "$tmp/ops.log"; then
  say "FAIL: the tensor-core attention failed its proof on this GPU (see the warnings above)"; fails=$((fails + 1))
fi
say "test_backend_ops with QUIPU_GPU_GEMM=tiles QUIPU_GPU_ATTN=exact (every GEMM on the fixed-order tiles, attention on the fp32 kernel):"
QUIPU_GPU_GEMM=tiles QUIPU_GPU_ATTN=exact ./build-gpu/tests/test_backend_ops > "$tmp/ops2.log" 2>&1 || fails=$((fails + 1))
tail -1 "$tmp/ops2.log" | tee -a "$report"
grep -q '^cuda: skipped' "$tmp/ops.log" && { say "no GPU seen: stopping"; exit 1; }

say ""
say "## attention: the fp32 kernel against tensor cores, one long packed batch (bench/attention.c)"
# correctness first (each half result against the fp32 kernel's), then medians of 5 calls
./build-gpu/bench_attention 8192 5 > "$tmp/att.md" 2> "$tmp/att.err"; rc=$?
tee -a "$report" < "$tmp/att.md"
[ $rc -eq 0 ] || { say "bench_attention: FAIL (exit $rc): $(tail -1 "$tmp/att.err")"; fails=$((fails + 1)); }

say ""
say "## quipu score: GPU (f32) against the CPU backend, $N sentences per language"
python3 scripts/crows-sentences.py "$DATASETS" $((N / 2)) > "$tmp/sent.jsonl"
say "sentences: $(wc -l < "$tmp/sent.jsonl")"
for m in SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf; do
  path="$MODELS/$m"
  [ -f "$path" ] || { say "$m: absent (scripts/fetch-models.sh): not checked"; fails=$((fails + 1)); continue; }
  t0=$(date +%s.%N)
  ./build-gpu/quipu score --model "$path" --backend cpu --per-token < "$tmp/sent.jsonl" > "$tmp/cpu.jsonl" 2>"$tmp/err" || { say "$m cpu: $(tail -1 "$tmp/err")"; fails=$((fails+1)); continue; }
  t1=$(date +%s.%N)
  ./build-gpu/quipu score --model "$path" --backend cuda --per-token < "$tmp/sent.jsonl" > "$tmp/gpu.jsonl" 2>"$tmp/err" || { say "$m cuda: $(tail -1 "$tmp/err")"; fails=$((fails+1)); continue; }
  t2=$(date +%s.%N)
  ./build-gpu/quipu score --model "$path" --backend cuda --per-token --batch-tokens 1 < "$tmp/sent.jsonl" > "$tmp/gpu1.jsonl" 2>"$tmp/err"
  tac "$tmp/sent.jsonl" | ./build-gpu/quipu score --model "$path" --backend cuda --per-token --batch-tokens 333 2>"$tmp/err" | tac > "$tmp/gpur.jsonl"
  python3 - "$tmp/cpu.jsonl" "$tmp/gpu.jsonl" "$m" "$t0" "$t1" "$t2" <<'PY' | tee -a "$report"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) and a, "result counts differ"
tok = max(abs(x - y) for p, q in zip(a, b) for x, y in zip(p["token_logprobs"], q["token_logprobs"]))
sen = max(abs(p["logprob"] - q["logprob"]) for p, q in zip(a, b))
same_n = all(p["n_tokens"] == q["n_tokens"] for p, q in zip(a, b))
greedy = sum(p["is_greedy"] != q["is_greedy"] for p, q in zip(a, b))
# pairs: consecutive sentences (more, less)
dec = sum((a[i]["logprob"] > a[i + 1]["logprob"]) == (b[i]["logprob"] > b[i + 1]["logprob"]) for i in range(0, len(a) - 1, 2))
t0, t1, t2 = map(float, sys.argv[4:7])
ok = tok <= 1e-4 and same_n
print(f"{sys.argv[3]}: {'PASS' if ok else 'FAIL'} max |dlogprob| per token {tok:.2e} (limit 1e-4), per sentence {sen:.2e}; "
      f"token counts {'equal' if same_n else 'DIFFER'}; greedy flags differing {greedy}; pair decisions equal {dec}/{len(a)//2}; "
      f"cpu {t1 - t0:.1f} s, gpu {t2 - t1:.1f} s (load included)")
sys.exit(0 if ok else 1)
PY
  [ "${PIPESTATUS[0]}" -eq 0 ] || fails=$((fails + 1))
  if cmp -s "$tmp/gpu.jsonl" "$tmp/gpu1.jsonl" && cmp -s "$tmp/gpu.jsonl" "$tmp/gpur.jsonl"; then
    say "$m: PASS GPU batch invariance: batch-tokens 2048, 1 and reversed order with 333 give the same bytes"
  else
    say "$m: FAIL GPU batch invariance: results differ across batch sizes or orders"; fails=$((fails + 1))
  fi
  # bf16 (the default on a GPU): tensor-core GEMMs through cuBLASLt, each shape's algorithm proven
  # batch invariant on this GPU first (kernels/gemm_lt.cu); must still give the same bytes
  ./build-gpu/quipu score --model "$path" --backend cuda --dtype bf16 --per-token < "$tmp/sent.jsonl" > "$tmp/b16.jsonl" 2>"$tmp/b16.err"
  ./build-gpu/quipu score --model "$path" --backend cuda --dtype bf16 --per-token --batch-tokens 1 < "$tmp/sent.jsonl" > "$tmp/b16a.jsonl" 2>/dev/null
  tac "$tmp/sent.jsonl" | ./build-gpu/quipu score --model "$path" --backend cuda --dtype bf16 --per-token --batch-tokens 333 2>/dev/null | tac > "$tmp/b16r.jsonl"
  grep -h "warn" "$tmp/b16.err" | sed 's/^/    /' | tee -a "$report"
  if [ -s "$tmp/b16.jsonl" ] && cmp -s "$tmp/b16.jsonl" "$tmp/b16a.jsonl" && cmp -s "$tmp/b16.jsonl" "$tmp/b16r.jsonl"; then
    say "$m: PASS bf16 batch invariance (tensor cores where proven): batch-tokens 2048, 1 and reversed 333 give the same bytes"
  else
    say "$m: FAIL bf16 batch invariance: $(tail -1 "$tmp/b16.err")"; fails=$((fails + 1))
  fi
  # the overlapped loop (batch N+1 packed and uploaded while batch N runs: docs/gpu.md) against
  # the plain one (QUIPU_GPU_OVERLAP=0): the same bytes; the wall times for information
  o0=$(date +%s.%N)
  QUIPU_GPU_OVERLAP=0 ./build-gpu/quipu score --model "$path" --backend cuda --dtype bf16 --per-token < "$tmp/sent.jsonl" > "$tmp/b16p.jsonl" 2>"$tmp/b16p.err"
  o1=$(date +%s.%N)
  ./build-gpu/quipu score --model "$path" --backend cuda --dtype bf16 --per-token < "$tmp/sent.jsonl" > "$tmp/b16o.jsonl" 2>/dev/null
  o2=$(date +%s.%N)
  if [ -s "$tmp/b16p.jsonl" ] && cmp -s "$tmp/b16.jsonl" "$tmp/b16p.jsonl" && cmp -s "$tmp/b16.jsonl" "$tmp/b16o.jsonl"; then
    say "$m: PASS overlap: QUIPU_GPU_OVERLAP=0 gives the overlapped loop's bytes (bf16; plain $(awk "BEGIN { printf \"%.1f\", $o1 - $o0 }") s, overlapped $(awk "BEGIN { printf \"%.1f\", $o2 - $o1 }") s, load included)"
  else
    say "$m: FAIL overlap: the plain loop's bytes differ from the overlapped loop's: $(tail -1 "$tmp/b16p.err")"; fails=$((fails + 1))
  fi
  python3 - "$tmp/cpu.jsonl" "$tmp/b16.jsonl" "$m" <<'PY' | tee -a "$report"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
if len(a) != len(b) or not a:
    print(f"{sys.argv[3]}: bf16: no results to compare"); sys.exit(0)
d = sorted(abs(x - y) for p, q in zip(a, b) for x, y in zip(p["token_logprobs"], q["token_logprobs"]))
dec = sum((a[i]["logprob"] > a[i + 1]["logprob"]) == (b[i]["logprob"] > b[i + 1]["logprob"]) for i in range(0, len(a) - 1, 2))
print(f"{sys.argv[3]}: bf16 vs CPU f32 (information): |dlogprob| per token median {d[len(d) // 2]:.2e}, p99 {d[int(len(d) * 0.99)]:.2e}, "
      f"max {d[-1]:.2e}; pair decisions equal {dec}/{len(a) // 2}")
PY
  # the layers kept in their GGUF blocks on the GPU, dequantized one matrix at a time by the
  # dequant kernel (what a model too large to hold dequantized gets): the same bytes as bf16 above
  QUIPU_GGUF_WEIGHTS=blocks ./build-gpu/quipu score --model "$path" --backend cuda --dtype bf16 --per-token < "$tmp/sent.jsonl" > "$tmp/blk.jsonl" 2>"$tmp/blk.err"
  if [ -s "$tmp/blk.jsonl" ] && cmp -s "$tmp/b16.jsonl" "$tmp/blk.jsonl"; then
    say "$m: PASS GGUF blocks dequantized per matrix on the GPU == dequantized at load (bf16), byte for byte"
  else
    say "$m: FAIL GGUF blocks on the GPU differ from dequantized at load: $(tail -1 "$tmp/blk.err")"; fails=$((fails + 1))
  fi
done

say ""
say "## quipu run: the overlapped loop against the plain one (configs/demo.yaml on the GPU, bf16)"
# the next chunk tokenized and begun, and this one journaled, while this one's last batch runs
t_run=()
for ov in 0 1; do
  t0=$(date +%s.%N)
  QUIPU_GPU_OVERLAP=$ov ./build-gpu/quipu run configs/demo.yaml --set models.0.backend=cuda --set "output=$tmp/run$ov" --set metrics.bootstrap=100 \
    --set "datasets_dir=$([ -f "$DATASETS/crows-pairs/data/crows_pairs_anonymized.csv" ] && echo "$DATASETS" || echo configs/demo)" \
    > "$tmp/run$ov.out" 2> "$tmp/run$ov.err" || { say "FAIL: run with QUIPU_GPU_OVERLAP=$ov: $(tail -1 "$tmp/run$ov.err")"; fails=$((fails + 1)); }
  t_run[ov]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
done
if [ -f "$tmp/run0/items.jsonl.zst" ] && cmp -s "$tmp/run0/items.jsonl.zst" "$tmp/run1/items.jsonl.zst" && cmp -s "$tmp/run0/summary.json" "$tmp/run1/summary.json"; then
  say "PASS: run overlapped == plain (items.jsonl.zst, summary.json); plain ${t_run[0]} s, overlapped ${t_run[1]} s ($(grep -o 'scored in [0-9.]* s' "$tmp/run1.err" | head -1))"
else
  say "FAIL: run overlapped differs from plain"; fails=$((fails + 1))
fi

say ""
say "## refusals"
if env -u CUDA_VISIBLE_DEVICES QUIPU_LOCAL_RANK=$(( $(nvidia-smi -L | wc -l) )) ./build-gpu/quipu score --model "$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf" --backend cuda \
     < /dev/null 2>"$tmp/err"; then
  say "FAIL: a second rank on a GPU already taken was accepted"; fails=$((fails + 1))
else
  say "PASS: a rank without a GPU of its own: $(cat "$tmp/err")"
fi
say ""
say "## benchmark: quipu vs transformers (bf16), random Llama-3.2-1B and Llama-3.1-8B shapes (bench/gpu.py)"
# random models made here under $tmp (gone at exit); about 4 minutes in all (QUIPU_GPU_BENCH_BUDGET
# seconds: caps shrink to fit, the report is written whatever happens). QUIPU_GPU_BENCH_ARGS adds
# flags (e.g. --items 1b=600:60,8b=200:20). Full table: results/bench/gpu.md.
if python3 -c 'import torch, transformers' 2>/dev/null; then
  budget="${QUIPU_GPU_BENCH_BUDGET:-240}"
  dsarg=()
  [ -f "$DATASETS/crows-pairs/data/crows_pairs_anonymized.csv" ] && dsarg=(--datasets "$DATASETS")
  # shellcheck disable=SC2086
  timeout $((budget + 90)) python3 bench/gpu.py --quipu ./build-gpu/quipu --device cuda --models "$tmp/random-models" \
      --budget "$budget" --out results/bench/gpu "${dsarg[@]}" ${QUIPU_GPU_BENCH_ARGS:-} > "$tmp/bench.out" 2> "$tmp/bench.err"
  rc=$?
  if [ -f results/bench/gpu.md ] && [ results/bench/gpu.md -nt "$report" ]; then
    sed -n '/^| shape/,/^## How/p' results/bench/gpu.md | grep -v '^## How' | tee -a "$report"
  fi
  if [ $rc -eq 0 ]; then
    say "benchmark: done ($(grep -o 'whole benchmark [0-9]* s' results/bench/gpu.md))"
  else
    say "benchmark: FAIL (exit $rc): $(grep -v '^\[bench/gpu' "$tmp/bench.err" | tail -1)"; fails=$((fails + 1))
    tail -5 "$tmp/bench.err" | sed 's/^/    /' | tee -a "$report"
  fi
  [ -n "${OUT:-}" ] && cp results/bench/gpu.md results/bench/gpu.json "$OUT/" 2>/dev/null
else
  say "benchmark: skipped: python3 has no torch + transformers"
fi

say ""
say "failures: $fails"
[ -n "${OUT:-}" ] && cp "$report" "$OUT/" 2>/dev/null
exit $(( fails > 0 ))
