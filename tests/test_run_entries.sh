# test_run_entries.sh — one benchmark twice in one config (distinct labels, other prompts or
# templates) scores each entry as that entry alone would: the journal keys every record by model,
# label, item and the text scored, so the entries never share or mix records, even when their
# choice counts differ (bbq with its own 3 answers and in lm-eval mode with 12). A resumed run
# gives the same bytes.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
model=$(tiny_model tiny-mistral)
entry_esbbq_default='  - {name: esbbq, label: esbbq_default, limit: 4}'
entry_esbbq_es='  - {name: esbbq, label: esbbq_es, limit: 4, prompt: "Contexto: {context}\nPregunta: {question}\nRespuesta:"}'
entry_bbq_plain='  - {name: bbq, label: bbq_plain, limit: 3}'
entry_bbq_lm='  - {name: bbq, label: bbq_lm, limit: 3, template: lm-eval}'
config() { # file entries...
  local f="$1"; shift
  cat > "$f" <<YAML
name: t
output: $TMPD/unused
datasets_dir: $QUIPU_SHARED/datasets
models:
  - {path: $model, name: tiny}
metrics: {bootstrap: 20}
progress_interval: 0
benchmarks:
YAML
  local e
  for e in "$@"; do printf '%s\n' "$e" >> "$f"; done
}
run_to() { # config out [args]
  local c="$1" o="$2"; shift 2
  "$QUIPU_BIN" run "$c" --set "output=$o" "$@" > "$TMPD/stdout" 2> "$TMPD/stderr"
}
# label -> its records (lp, nt, nb, g) as one line each, in item order
records() { # dir label
  zstdcat "$1/items.jsonl.zst" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["benchmark"] == sys.argv[1]:
        print(r["id"], r["lp"], r["nt"], r["nb"], r["g"])' "$2"
}

config "$TMPD/all.yaml" "$entry_esbbq_default" "$entry_esbbq_es" "$entry_bbq_plain" "$entry_bbq_lm"
if run_to "$TMPD/all.yaml" "$TMPD/all"; then ok "one config, esbbq and bbq twice each"; else fail "combined run: $(tail -2 "$TMPD/stderr")"; fi
for e in esbbq_default esbbq_es bbq_plain bbq_lm; do
  var="entry_$e"
  config "$TMPD/$e.yaml" "${!var}"
  if ! run_to "$TMPD/$e.yaml" "$TMPD/$e"; then fail "$e alone: $(tail -2 "$TMPD/stderr")"; continue; fi
  records "$TMPD/all" "$e" > "$TMPD/$e.combined"
  records "$TMPD/$e" "$e" > "$TMPD/$e.alone"
  if [ -s "$TMPD/$e.alone" ] && cmp -s "$TMPD/$e.combined" "$TMPD/$e.alone"; then
    ok "$e: same records as the entry alone ($(wc -l < "$TMPD/$e.alone") items)"
  else
    fail "$e: records differ from the entry alone: $(diff "$TMPD/$e.alone" "$TMPD/$e.combined" | head -3)"
  fi
done
# the two prompts really score differently (else the check above proves nothing)
if ! cmp -s <(cut -d' ' -f2- "$TMPD/esbbq_default.alone") <(cut -d' ' -f2- "$TMPD/esbbq_es.alone"); then
  ok "the two esbbq prompts give different log-probs"
else
  fail "the two esbbq prompts gave the same log-probs"
fi
n12=$(awk '{print NF}' "$TMPD/bbq_lm.alone" | sort -u)
[ "$(grep -o ',' <<< "$(head -1 "$TMPD/bbq_lm.alone" | cut -d']' -f1)" | wc -l)" -eq 11 ] && ok "bbq in lm-eval mode: 12 choices" \
  || fail "bbq in lm-eval mode: $(head -1 "$TMPD/bbq_lm.alone")"
# lm-eval mode follows each task of lm-evaluation-harness: esbbq and cabbq get 11 choices (ans0,
# ans1 and 9 unknown wordings of their own language); a benchmark lm-eval has no task for is refused
config "$TMPD/lm.yaml" '  - {name: esbbq, label: es_lm, limit: 2, template: lm-eval}' '  - {name: cabbq, label: ca_lm, limit: 2, template: lm-eval}'
if run_to "$TMPD/lm.yaml" "$TMPD/lm"; then
  n=$(zstdcat "$TMPD/lm/items.jsonl.zst" | python3 -c 'import json,sys; print(sorted({len(json.loads(l)["lp"]) for l in sys.stdin}))')
  [ "$n" = "[11]" ] && ok "esbbq, cabbq in lm-eval mode: 11 choices" || fail "esbbq/cabbq lm-eval choices: $n"
else
  fail "esbbq/cabbq lm-eval run: $(tail -2 "$TMPD/stderr")"
fi
config "$TMPD/bad.yaml" '  - {name: mbbq_es, template: lm-eval}'
expect_error "lm-eval mode without an lm-eval task" "benchmarks\.0\.template.*lm-evaluation-harness has no task for 'mbbq_es'" \
  "$QUIPU_BIN" run "$TMPD/bad.yaml"
# a stopped-and-resumed combined run: the journal holds both entries' records apart
cp -r "$TMPD/all" "$TMPD/resumed"
rm -f "$TMPD/resumed/summary.json" "$TMPD/resumed/items.jsonl.zst"
if run_to "$TMPD/all.yaml" "$TMPD/resumed" --resume && grep -q "from the journal" "$TMPD/stderr" \
   && cmp -s <(zstdcat "$TMPD/all/items.jsonl.zst") <(zstdcat "$TMPD/resumed/items.jsonl.zst"); then
  ok "resumed from the journal: same items"
else
  fail "resume of the combined run: $(tail -2 "$TMPD/stderr")"
fi
# finished work is journaled per unit (model, entry, item, text), not per config: a config that
# gains a model reuses every unit it still has and scores only the new model's
model2=$(tiny_model tiny-qwen2)
config "$TMPD/one.yaml" "$entry_esbbq_default" "$entry_bbq_plain"
config "$TMPD/two.yaml" "$entry_esbbq_default" "$entry_bbq_plain"
sed -i "s|^  - {path: $model, name: tiny}|  - {path: $model, name: tiny}\n  - {path: $model2, name: tiny2}|" "$TMPD/two.yaml"
run_to "$TMPD/one.yaml" "$TMPD/grow" || fail "one model: $(tail -2 "$TMPD/stderr")"
if run_to "$TMPD/two.yaml" "$TMPD/grow" --resume && grep -q "model tiny: 0 items to score (0 on rank 0), 7 from the journal" "$TMPD/stderr" \
   && grep -q "model tiny2: 7 items to score" "$TMPD/stderr"; then
  ok "a second model added: the first model's 7 units reused, only the new model scored"
else
  fail "adding a model: $(grep -E 'to score|error' "$TMPD/stderr" | head -3)"
fi
run_to "$TMPD/two.yaml" "$TMPD/both" && cmp -s <(zstdcat "$TMPD/grow/items.jsonl.zst") <(zstdcat "$TMPD/both/items.jsonl.zst") \
  && ok "grown run equals the two-model run from scratch" || fail "grown run differs from the two-model run"
# without --resume, finished work is never set aside silently
expect_error "rerun without --resume beside a journal" "holds finished work of an earlier run: add --resume .* or --fresh" \
  "$QUIPU_BIN" run "$TMPD/two.yaml" --set "output=$TMPD/grow"
if run_to "$TMPD/two.yaml" "$TMPD/grow" --fresh && grep -q "model tiny: 7 items to score" "$TMPD/stderr"; then
  ok "--fresh deletes the journal and scores everything"
else
  fail "--fresh: $(tail -2 "$TMPD/stderr")"
fi
# a broken second model is found before the first is scored
head -c 3000 "$model2/model.safetensors" > "$TMPD/trunc.safetensors"
mkdir -p "$TMPD/bad2" && cp "$model2"/*.json "$TMPD/bad2/" && mv "$TMPD/trunc.safetensors" "$TMPD/bad2/model.safetensors"
sed "s|$model2|$TMPD/bad2|" "$TMPD/two.yaml" > "$TMPD/bad2.yaml"
expect_error "a truncated second model, before any scoring" "model tiny2: .*model.safetensors" \
  "$QUIPU_BIN" run "$TMPD/bad2.yaml" --set "output=$TMPD/bad2out"
if [ -z "$(find "$TMPD/bad2out/journal" -name '*.jsonl' -size +0 2>/dev/null)" ]; then ok "nothing scored before the bad model was found"; else fail "the first model was scored before the bad second one was found"; fi
finish
