#!/usr/bin/env bash
# gpu-emulate.sh HIP_CPU_DIR — the GPU backend's kernels run on the CPU: quipu built with
# -DQUIPU_GPU_EMULATE=HIP_CPU_DIR (a checkout of the HIP CPU runtime, a header-only C++17 library
# that runs HIP kernels on CPU threads; Debian's libtbb-dev beside it), so every .cu of kernels/
# is compiled as it is written (only the launch syntax rewritten, scripts/hip-cpu-source.py) and
# runs as the `hip` backend. Then, as scripts/gpu-check.sh does on a GPU: test_backend_ops (every
# kernel against its scalar reference, batch invariance), and quipu score on the real models,
# hip (dtype f32) against the CPU backend per token within 1e-4, bf16 against the CPU over the
# same bf16-rounded weights (QUIPU_DEBUG_ROUND_WEIGHTS=bf16) per token within 1e-4, and bytes
# across batch sizes, orders and GGUF blocks. What this cannot check: anything NVIDIA-only
# (cuBLASLt's tensor-core GEMMs, the device's own float rounding of exp/log, warp scheduling,
# memory limits, speed). Report: results/bench/gpu-emulated.md. A small sample by default: the
# emulation runs a GPU thread as a fiber, some hundred times slower than the CPU backend.
set -uo pipefail
hipcpu="${1:?usage: gpu-emulate.sh HIP_CPU_DIR}"
hipcpu="$(cd "$hipcpu" && pwd)"
cd "$(dirname "$0")/.." || exit 1
N="${QUIPU_EMU_SENTENCES:-1}"   # pairs per language
MODELS="${QUIPU_MODELS:-$HOME/.cache/quipu/models}"
DATASETS="${QUIPU_DATASETS:-$(cd .. && pwd)/shared/datasets}"
build="${QUIPU_EMU_BUILD:-build-emu}"
report="${QUIPU_EMU_REPORT:-results/bench/gpu-emulated.md}"
mkdir -p results/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
say() { echo "$*" | tee -a "$report"; }
: > "$report"
say "# The GPU backend emulated on the CPU ($(date -u +%Y-%m-%d), quipu $(git rev-parse --short=12 HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' + uncommitted changes'))"
say ""
say "Command: \`bash scripts/gpu-emulate.sh HIP_CPU_DIR\` (HIP CPU runtime $(git -C "$hipcpu" rev-parse --short=12 HEAD 2>/dev/null || echo "checkout"), $(${CXX:-g++} --version | head -1), $(nproc) cores)."
say "The kernels of kernels/ compiled for the HIP CPU runtime and run as the \`hip\` backend: the"
say "same sources as the GPU build (HIP names, 64-wide warps), launched on CPU threads. It checks the"
say "kernels' logic (indexing, tiling, shared memory, synchronisation, reductions, layouts), not"
say "what only a GPU has: cuBLASLt, the device's float functions, timing, memory."
say ""
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUIPU_MPI=OFF -DQUIPU_GPU_EMULATE="$hipcpu" > "$tmp/cmake.log" 2>&1 &&
       cmake --build "$build" -j"$(nproc)" --target quipu test_backend_ops > "$tmp/build.log" 2>&1; }; then
  say "BUILD FAILED:"; tail -30 "$tmp/cmake.log" "$tmp/build.log" | tee -a "$report"; exit 1
fi
say "## test_backend_ops"
say '```'
"$build/tests/test_backend_ops" > "$tmp/ops.log" 2>&1; rc=$?
grep -v '^cpu ' "$tmp/ops.log" | tee -a "$report"
say '```'
[ $rc -eq 0 ] || fails=$((fails + 1))

say ""
say "## quipu score: hip (emulated) against the CPU backend, $N pairs per language"
python3 scripts/crows-sentences.py "$DATASETS" "$N" --shared-prompt > "$tmp/sent.jsonl"
say "sentences: $(wc -l < "$tmp/sent.jsonl") (the last 3 share one prompt)"
q="$build/quipu"
# QUIPU_EMU_REAL=0 skips the two GGUF models (each emulated run takes minutes), keeping the tiny ones below
[ "${QUIPU_EMU_REAL:-1}" = 0 ] && real=() || real=(SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf)
for m in "${real[@]}"; do
  path="$MODELS/$m"
  [ -f "$path" ] || { say "$m: absent (scripts/fetch-models.sh): not checked"; fails=$((fails + 1)); continue; }
  t0=$(date +%s)
  "$q" score --model "$path" --backend cpu --per-token < "$tmp/sent.jsonl" > "$tmp/cpu.jsonl" 2>"$tmp/err" || { say "$m cpu: $(tail -1 "$tmp/err")"; fails=$((fails+1)); continue; }
  QUIPU_DEBUG_ROUND_WEIGHTS=bf16 "$q" score --model "$path" --backend cpu --per-token < "$tmp/sent.jsonl" > "$tmp/cpu16.jsonl" 2>"$tmp/err" || { say "$m cpu, bf16 weights: $(tail -1 "$tmp/err")"; fails=$((fails+1)); continue; }
  "$q" score --model "$path" --backend hip --dtype f32 --per-token < "$tmp/sent.jsonl" > "$tmp/f32.jsonl" 2>"$tmp/err" || { say "$m hip f32: $(tail -1 "$tmp/err")"; fails=$((fails+1)); continue; }
  tac "$tmp/sent.jsonl" | "$q" score --model "$path" --backend hip --dtype f32 --per-token --batch-tokens 40 2>"$tmp/err" | tac > "$tmp/f32r.jsonl"
  "$q" score --model "$path" --backend hip --dtype bf16 --per-token < "$tmp/sent.jsonl" > "$tmp/b16.jsonl" 2>"$tmp/err" || { say "$m hip bf16: $(tail -1 "$tmp/err")"; fails=$((fails+1)); continue; }
  tac "$tmp/sent.jsonl" | "$q" score --model "$path" --backend hip --dtype bf16 --per-token --batch-tokens 40 2>/dev/null | tac > "$tmp/b16r.jsonl"
  QUIPU_GGUF_WEIGHTS=blocks "$q" score --model "$path" --backend hip --dtype bf16 --per-token < "$tmp/sent.jsonl" > "$tmp/blk.jsonl" 2>"$tmp/err"
  python3 - "$tmp" "$m" <<'PY' | tee -a "$report"
import json, sys
t, m = sys.argv[1], sys.argv[2]
load = lambda f: [json.loads(l) for l in open(f"{t}/{f}.jsonl")]
cpu, f32, b16 = load("cpu"), load("f32"), load("b16")
assert len(cpu) == len(f32) == len(b16) and cpu, "result counts differ"
tok = max(abs(x - y) for p, q in zip(cpu, f32) for x, y in zip(p["token_logprobs"], q["token_logprobs"]))
same_n = all(p["n_tokens"] == q["n_tokens"] for p, q in zip(cpu, f32))
greedy = sum(p["is_greedy"] != q["is_greedy"] for p, q in zip(cpu, f32))
ok = tok <= 1e-4 and same_n and greedy == 0
print(f"{m}: {'PASS' if ok else 'FAIL'} hip f32 vs cpu: max |dlogprob| per token {tok:.2e} (limit 1e-4), token counts "
      f"{'equal' if same_n else 'DIFFER'}, greedy flags differing {greedy}")
# bf16 on the tile GEMM (the only GEMM of the hip backend) rounds the weight matrices and nothing
# else: the CPU over the same rounded weights (QUIPU_DEBUG_ROUND_WEIGHTS=bf16) is its reference
cpu16 = load("cpu16")
tok16 = max(abs(x - y) for p, q in zip(cpu16, b16) for x, y in zip(p["token_logprobs"], q["token_logprobs"]))
ok2 = tok16 <= 1e-4 and all(p["n_tokens"] == q["n_tokens"] for p, q in zip(cpu16, b16))
print(f"{m}: {'PASS' if ok2 else 'FAIL'} hip bf16 vs cpu over the same bf16-rounded weights: max |dlogprob| per token {tok16:.2e} (limit 1e-4)")
sen = max(abs(p["logprob"] - q["logprob"]) for p, q in zip(cpu, b16))
sen16 = max(abs(p["logprob"] - q["logprob"]) for p, q in zip(cpu, cpu16))
pairs = len(cpu) // 2 - 1  # the 2N sentences before the 3 shared-prompt ones
dec = sum((cpu[i]["logprob"] > cpu[i + 1]["logprob"]) == (b16[i]["logprob"] > b16[i + 1]["logprob"]) for i in range(0, 2 * pairs, 2))
print(f"{m}: (information) hip bf16 vs cpu f32: max |dlogprob| per sentence {sen:.2e}; the CPU itself over the bf16-rounded weights: "
      f"{sen16:.2e} (what rounding the weights costs); pair decisions equal {dec}/{pairs}")
same = lambda a, b: open(f"{t}/{a}.jsonl", "rb").read() == open(f"{t}/{b}.jsonl", "rb").read()
for a, b, what in (("f32", "f32r", "f32: batch-tokens 2048 and reversed order in 40-token batches"),
                   ("b16", "b16r", "bf16: batch-tokens 2048 and reversed order in 40-token batches"),
                   ("b16", "blk", "bf16: GGUF layers kept in blocks, dequantized per matrix by the kernel, and dequantized at load")):
    s = same(a, b)
    ok = ok and s
    print(f"{m}: {'PASS' if s else 'FAIL'} same bytes, {what}")
sys.exit(0 if ok and ok2 else 1)
PY
  [ "${PIPESTATUS[0]}" -eq 0 ] || fails=$((fails + 1))
  say "$m: $(( $(date +%s) - t0 )) s for the seven runs"
done
say ""
say "## The tiny MoE checkpoints of tests/models (f32, with the forward queue's overlap on and off)"
for m in tiny-qwen2-moe tiny-mixtral; do
  d="$tmp/$m"
  mkdir -p "$d" && cp tests/models/$m/* "$d/"
  src=$(cat "tests/models/$m/tokenizer.source")
  cp "${QUIPU_SHARED:-../shared}/tokenizers/$src/tokenizer.json" "$d/" 2>/dev/null || { say "$m: tokenizer $src absent: not checked"; fails=$((fails + 1)); continue; }
  "$q" score --model "$d" --backend cpu --per-token < "$tmp/sent.jsonl" > "$tmp/mc.jsonl" 2>"$tmp/err" &&
    "$q" score --model "$d" --backend hip --dtype f32 --per-token < "$tmp/sent.jsonl" > "$tmp/mh.jsonl" 2>>"$tmp/err" &&
    QUIPU_GPU_OVERLAP=0 "$q" score --model "$d" --backend hip --dtype f32 --per-token --batch-tokens 30 < "$tmp/sent.jsonl" > "$tmp/mh0.jsonl" 2>>"$tmp/err" ||
    { say "$m: $(tail -1 "$tmp/err")"; fails=$((fails + 1)); continue; }
  python3 - "$tmp" "$m" <<'PY' | tee -a "$report"
import json, sys
t, m = sys.argv[1], sys.argv[2]
load = lambda f: [json.loads(l) for l in open(f"{t}/{f}.jsonl")]
c, h = load("mc"), load("mh")
tok = max(abs(x - y) for p, q in zip(c, h) for x, y in zip(p["token_logprobs"], q["token_logprobs"]))
ok = len(c) == len(h) > 0 and tok <= 1e-4 and all(p["n_tokens"] == q["n_tokens"] for p, q in zip(c, h))
same = open(f"{t}/mh.jsonl", "rb").read() == open(f"{t}/mh0.jsonl", "rb").read()
print(f"{m}: {'PASS' if ok else 'FAIL'} hip f32 vs cpu: max |dlogprob| per token {tok:.2e} (limit 1e-4); "
      f"{'PASS' if same else 'FAIL'} same bytes with the overlap on (2048-token batches) and off (QUIPU_GPU_OVERLAP=0, 30-token batches)")
sys.exit(0 if ok and same else 1)
PY
  [ "${PIPESTATUS[0]}" -eq 0 ] || fails=$((fails + 1))
done
say ""
say "failures: $fails"
exit $(( fails > 0 ))
