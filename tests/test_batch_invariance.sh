# test_batch_invariance.sh — an item's log-probs are bit-identical whether it is scored alone or
# packed with 63 others of different lengths, in any order, under any token budget: SmolLM2, and
# the tiny checkpoints of the architectures added since (QK-norm, soft-capping, post-norms,
# parallel residual, fused projections, ALiBi, Falcon's shared-norm and grouped layouts, and a mixture
# of experts: Qwen2-MoE's top-3 routing with a gated shared expert and a dense layer).
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared datasets
[ -f "$SMOL" ] || [ -d "$QUIPU_SHARED/tokenizers" ] || skip "$SMOL absent (run scripts/fetch-models.sh) and no shared tokenizers for the tiny models"

# 64 items of varied lengths from CrowS-Pairs (en) and French CrowS-Pairs, some with contexts
python3 - "$QUIPU_SHARED/datasets" > "$TMPD/in.jsonl" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/crows-pairs/data/crows_pairs_anonymized.csv", encoding="utf-8")))
fr = list(csv.DictReader(open(f"{d}/crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv", encoding="utf-8"), delimiter="\t"))
items = []
for i in range(24):
    items.append({"context": "", "continuation": rows[i * 37]["sent_more"]})
for i in range(24):
    s = fr[i * 41]["sent_less"]
    cut = len(s) // 2
    items.append({"context": s[:cut], "continuation": s[cut:]})
for i in range(16):  # long items: several sentences of context
    ctx = " ".join(r["sent_more"] for r in rows[i * 50:i * 50 + 4 + (i % 5)])
    items.append({"context": ctx + " ", "continuation": rows[i * 50 + 9]["sent_less"]})
for it in items:
    print(json.dumps(it, ensure_ascii=False))
PY
run() { "$QUIPU_BIN" score --model "$1" --per-token "${@:2}" < "$TMPD/in.jsonl"; }
check_model() {
  local m="$1" name="$2"
  run "$m" --batch-tokens 100000 > "$TMPD/packed" 2>"$TMPD/err" || { fail "$name packed: $(cat "$TMPD/err")"; return; }
  run "$m" --batch-tokens 1 > "$TMPD/alone" 2>"$TMPD/err" || { fail "$name alone: $(cat "$TMPD/err")"; return; }
  tac "$TMPD/in.jsonl" | "$QUIPU_BIN" score --model "$m" --per-token --batch-tokens 301 | tac > "$TMPD/rev"
  local n
  n=$(wc -l < "$TMPD/packed")
  [ "$n" -eq 64 ] && ok "$name: 64 results" || fail "$name: $n results"
  cmp -s "$TMPD/packed" "$TMPD/alone" && ok "$name: packed == alone (bit-identical)" || fail "$name: packed differs from alone: $(diff "$TMPD/packed" "$TMPD/alone" | head -4)"
  cmp -s "$TMPD/packed" "$TMPD/rev" && ok "$name: packed == reversed order, 301-token batches" || fail "$name: reversed order differs"
}
if [ -f "$SMOL" ]; then check_model "$SMOL" SmolLM2; else echo "note: $SMOL absent (run scripts/fetch-models.sh): SmolLM2 not checked"; fi
if [ -d "$QUIPU_SHARED/tokenizers" ]; then
  for m in tiny-qwen3 tiny-gemma2 tiny-olmo2 tiny-gpt-neox tiny-phi3 tiny-bloom tiny-falcon tiny-falcon-40b tiny-qwen2-moe; do check_model "$(tiny_model "$m")" "$m"; done
fi
finish
