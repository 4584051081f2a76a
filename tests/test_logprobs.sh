# test_logprobs.sh — quipu's log-probs against golden files made by transformers in fp32
# (scripts/golden/make_logprob_golden.py; versions in each file's header): identical token ids,
# every token within 1e-4, sums within 1e-3, same greedy flags. Real models (SmolLM2, Gemma 3
# GGUFs) and the tiny random checkpoints (GPT-2, Llama GQA + llama3 RoPE, sharded Llama, Qwen2,
# Mistral sliding window, Qwen3 QK-norm, Gemma 2 soft-capping, OLMo 2 post-norms, GPT-NeoX
# parallel residual + partial rotary, Phi-3 fused projections + LongRoPE, BLOOM ALiBi + embedding
# LayerNorm, Falcon 7B and 40B layouts, the mixtures of experts Mixtral, Qwen2-MoE with its shared
# expert and Qwen3-MoE): every golden file.
# QUIPU_GOLDEN_STRIDE=k compares every k-th item of each golden file (and every item of the tiny
# models but the mixtures of experts, every 4th): the sanitized build (scripts/test.sh, CI) uses 12, so the suite stays fast on two
# cores; the Release build and the "heavy" label (test_logprobs_full) compare all of them.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
G="$TESTS_DIR/golden/logprobs"
STRIDE="${QUIPU_GOLDEN_STRIDE:-1}"
ran=0
for golden in "$G"/*.jsonl; do
  name=$(basename "$golden" .jsonl)
  path=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['model_info']['path'])" "$golden")
  case "$path" in
    tests/models/*)
      if [ ! -d "$QUIPU_SHARED/tokenizers" ]; then echo "note: $name: needs $QUIPU_SHARED/tokenizers (shared data beside the clone): not compared"; continue; fi
      model=$(tiny_model "$(basename "$path")") ;;
    \$QUIPU_MODELS/*) model="$QUIPU_MODELS/${path#\$QUIPU_MODELS/}"
      if [ ! -f "$model" ]; then echo "note: $name: $model absent (scripts/fetch-models.sh): not compared"; continue; fi ;;
    *) fail "$name: unknown model path '$path' in the golden header"; continue ;;
  esac
  stride=$STRIDE
  case "$path" in tests/models/*) stride=1 ;; esac
  # the mixtures of experts, added last: every 4th item when the run strides (the sanitized suite),
  # to keep its time; every item in the Release build and test_logprobs_full
  case "$path" in tests/models/*moe|tests/models/tiny-mixtral) [ "$STRIDE" -gt 1 ] && stride=4 ;; esac
  # the golden file, every stride-th item (header kept), and quipu's input made from it
  python3 -c "
import json, sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
k = int(sys.argv[2])
with open(sys.argv[3], 'w', encoding='utf-8') as g, open(sys.argv[4], 'w', encoding='utf-8') as inp:
    g.write(lines[0] + '\\n')
    for i, l in enumerate(lines[1:]):
        if i % k: continue
        g.write(l + '\\n')
        d = json.loads(l)
        inp.write(json.dumps({'context': d['context'], 'continuation': d['continuation']}, ensure_ascii=False) + '\\n')
" "$golden" "$stride" "$TMPD/$name.golden" "$TMPD/$name.in"
  [ "$stride" -gt 1 ] && echo "note: $name: every ${stride}th item ($(($(wc -l < "$TMPD/$name.golden") - 1)) compared; QUIPU_GOLDEN_STRIDE=1 for all)"
  if ! "$QUIPU_BIN" score --model "$model" --per-token --ids < "$TMPD/$name.in" > "$TMPD/$name.out" 2>"$TMPD/$name.err"; then
    fail "$name: quipu score failed: $(tail -1 "$TMPD/$name.err")"
    continue
  fi
  if python3 "$TESTS_DIR/compare_logprobs.py" "$TMPD/$name.golden" "$TMPD/$name.out"; then ok "$name"; else fail "$name"; fi
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || skip "no golden file could be compared (models absent?)"
finish
