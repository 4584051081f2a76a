# test_logprobs.sh — quipu's log-probs against golden files made by transformers in fp32
# (scripts/golden/make_logprob_golden.py; versions in each file's header): identical token ids,
# every token within 1e-4, sums within 1e-3, same greedy flags. Real models (SmolLM2, Gemma 3
# GGUFs) and the tiny random checkpoints (GPT-2, Llama GQA + llama3 RoPE, sharded Llama, Qwen2,
# Mistral sliding window).
. "$QUIPU_SOURCE_DIR/tests/common.sh"
G="$TESTS_DIR/golden/logprobs"
ran=0
for golden in "$G"/*.jsonl; do
  name=$(basename "$golden" .jsonl)
  path=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['model_info']['path'])" "$golden")
  case "$path" in
    tests/models/*) model=$(tiny_model "$(basename "$path")") ;;
    \$QUIPU_MODELS/*) model="$QUIPU_MODELS/${path#\$QUIPU_MODELS/}"
      if [ ! -f "$model" ]; then echo "note: $name: $model absent (scripts/fetch-models.sh): not compared"; continue; fi ;;
    *) fail "$name: unknown model path '$path' in the golden header"; continue ;;
  esac
  python3 -c "
import json, sys
for i, l in enumerate(open(sys.argv[1], encoding='utf-8')):
    if i == 0: continue
    d = json.loads(l)
    print(json.dumps({'context': d['context'], 'continuation': d['continuation']}, ensure_ascii=False))
" "$golden" > "$TMPD/$name.in"
  if ! "$QUIPU_BIN" score --model "$model" --per-token --ids < "$TMPD/$name.in" > "$TMPD/$name.out" 2>"$TMPD/$name.err"; then
    fail "$name: quipu score failed: $(tail -1 "$TMPD/$name.err")"
    continue
  fi
  if python3 "$TESTS_DIR/compare_logprobs.py" "$golden" "$TMPD/$name.out"; then ok "$name"; else fail "$name"; fi
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || skip "no golden file could be compared (models absent?)"
finish
