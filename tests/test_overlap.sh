# test_overlap.sh — the overlapped scoring loop (docs/gpu.md: batch N+1 packed, and the next
# chunk tokenized and begun, while batch N runs; quipu_model_forward_begin / _end) gives the
# bytes of the plain loop (QUIPU_GPU_OVERLAP=0: every batch ended as soon as it is begun). On the
# CPU the forward pass itself is the same either way, so what this checks is the pipelining: two
# batch buffers and forward slots in turn, results written to the right items, a chunk's cache
# entries seen by the next chunk before their values exist, the journal and --resume. Small
# budgets, so every path runs many batches: `quipu score` (causal and masked LM, repeated
# items), `quipu run` with pairs and shared prompts, with and without its request cache, and a
# stop by SIGUSR1 then --resume.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
command -v zstd > /dev/null || skip "needs zstd"
need_shared tokenizers datasets/crows-pairs datasets/esbbq-cabbq
llama=$(tiny_model tiny-llama)
bert="$TMPD/tiny-bert-mlm"
mkdir -p "$bert" && cp "$TESTS_DIR/models/tiny-bert-mlm"/* "$bert/"
if [ -f "$bert/tokenizer.zst.source" ]; then zstd -qdc "$QUIPU_SOURCE_DIR/$(cat "$bert/tokenizer.zst.source")" > "$bert/tokenizer.json"; fi

# quipu score: 40 items, some with contexts, some repeated, at budgets of 1, 37 and 100 tokens
python3 - "$QUIPU_SHARED/datasets" > "$TMPD/in.jsonl" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/crows-pairs/data/crows_pairs_anonymized.csv", encoding="utf-8")))
for i in range(40):
    s = rows[(i % 30) * 29]["sent_more"]
    cut = len(s) // 3 if i % 2 else 0
    print(json.dumps({"context": s[:cut], "continuation": s[cut:]}, ensure_ascii=False))
PY
for m in llama bert; do
  path=${!m}
  for bt in 1 37 100; do
    QUIPU_GPU_OVERLAP=0 "$QUIPU_BIN" score --model "$path" --per-token --ids --batch-tokens "$bt" < "$TMPD/in.jsonl" > "$TMPD/plain" 2> "$TMPD/err" ||
      { fail "score $m plain, $bt tokens: $(cat "$TMPD/err")"; continue; }
    "$QUIPU_BIN" score --model "$path" --per-token --ids --batch-tokens "$bt" < "$TMPD/in.jsonl" > "$TMPD/over" 2> "$TMPD/err" ||
      { fail "score $m overlapped, $bt tokens: $(cat "$TMPD/err")"; continue; }
    n=$(wc -l < "$TMPD/over")
    if [ "$n" -eq 40 ] && cmp -s "$TMPD/plain" "$TMPD/over"; then
      ok "score $m, batches of $bt tokens: overlapped == plain, 40 results"
    else
      fail "score $m, batches of $bt tokens: $n results; $(diff "$TMPD/plain" "$TMPD/over" | head -3)"
    fi
  done
done

# quipu score reads 256 lines at a time, the next ones while the last batch of these runs: 600
# lines cross two such boundaries; a bad line (the 300th) stops it after the 299 before are printed
for _ in $(seq 15); do cat "$TMPD/in.jsonl"; done > "$TMPD/many.jsonl"
{ head -299 "$TMPD/many.jsonl"; echo '{"context": "x"'; tail -n +300 "$TMPD/many.jsonl"; } > "$TMPD/bad.jsonl"
QUIPU_GPU_OVERLAP=0 "$QUIPU_BIN" score --model "$llama" --per-token --batch-tokens 300 < "$TMPD/many.jsonl" > "$TMPD/plain" 2> "$TMPD/err"
"$QUIPU_BIN" score --model "$llama" --per-token --batch-tokens 300 < "$TMPD/many.jsonl" > "$TMPD/over" 2>> "$TMPD/err"
n=$(wc -l < "$TMPD/over")
if [ "$n" -eq 600 ] && cmp -s "$TMPD/plain" "$TMPD/over"; then
  ok "score, 600 lines in chunks of 256: overlapped == plain"
else
  fail "score, 600 lines: $n results; $(head -2 "$TMPD/err")"
fi
rc0=0 rc1=0
QUIPU_GPU_OVERLAP=0 "$QUIPU_BIN" score --model "$llama" --batch-tokens 300 < "$TMPD/bad.jsonl" > "$TMPD/plain" 2> "$TMPD/err0" || rc0=$?
"$QUIPU_BIN" score --model "$llama" --batch-tokens 300 < "$TMPD/bad.jsonl" > "$TMPD/over" 2> "$TMPD/err1" || rc1=$?
n=$(wc -l < "$TMPD/over")
if [ "$rc0" -eq 1 ] && [ "$rc1" -eq 1 ] && [ "$n" -eq 299 ] && cmp -s "$TMPD/plain" "$TMPD/over" && cmp -s "$TMPD/err0" "$TMPD/err1" &&
   [ "$(wc -l < "$TMPD/err1")" -eq 1 ] && grep -q "stdin:300: invalid JSON" "$TMPD/err1"; then
  ok "score, a bad 300th line: the 299 before printed, then $(cat "$TMPD/err1")"
else
  fail "score, a bad 300th line: exit $rc0 / $rc1, $n lines, $(head -2 "$TMPD/err1")"
fi

# quipu run: pairs and multiple choice (a shared prompt per item), chunks of a few items
cat > "$TMPD/run.yaml" <<YAML
name: ovl
output: $TMPD/unused
seed: 3
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $llama
    name: tiny
benchmarks:
  - name: crows_pairs_en
    limit: 30
    sample: spread
  - name: esbbq
    limit: 40
    sample: spread
metrics:
  bootstrap: 50
scoring:
  batch_tokens: 48
progress_interval: 0
YAML
run() { # out-dir [args...]
  "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$1" "${@:2}" > "$TMPD/stdout" 2> "$TMPD/stderr"
}
if QUIPU_GPU_OVERLAP=0 run "$TMPD/run-plain" && run "$TMPD/run-over"; then
  ok "run: plain and overlapped loops finish"
  same "$TMPD/run-plain" "$TMPD/run-over" "run, chunks of 144 bytes: overlapped == plain"
  n=$(zstd -dc "$TMPD/run-over/items.jsonl.zst" | wc -l)
  [ "$n" -eq 70 ] && ok "run: 70 items" || fail "run: $n items"
else
  fail "run: $(tail -3 "$TMPD/stderr")"
fi
# the comparison mode (no cache, every prompt run per continuation) through the same loop
if QUIPU_GPU_OVERLAP=0 run "$TMPD/plain-ns" --set scoring.prefix_sharing=false && run "$TMPD/over-ns" --set scoring.prefix_sharing=false; then
  same "$TMPD/plain-ns" "$TMPD/over-ns" "run without prefix sharing: overlapped == plain"
else
  fail "run without prefix sharing: $(tail -3 "$TMPD/stderr")"
fi

# a stop (SIGUSR1) while the next chunk is begun: exit 75, and --resume ends with the same bytes
"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/stop" --set scoring.batch_tokens=8 > "$TMPD/stdout" 2> "$TMPD/stderr" &
pid=$!
for _ in $(seq 100); do
  [ -n "$(ls "$TMPD/stop/journal/units" 2>/dev/null)" ] && [ "$(cat "$TMPD/stop/journal/units"/* 2>/dev/null | wc -c)" -gt 0 ] && break
  sleep 0.05
done
kill -USR1 "$pid" 2>/dev/null
rc=0
wait "$pid" || rc=$?
if [ "$rc" -eq 75 ]; then
  ok "run: SIGUSR1 stops after the current batch with exit 75"
  if run "$TMPD/stop" --resume --set scoring.batch_tokens=8; then
    run "$TMPD/whole" --set scoring.batch_tokens=8 && same "$TMPD/whole" "$TMPD/stop" "run stopped by SIGUSR1, then --resume: == uninterrupted"
  else
    fail "run --resume after the stop: $(tail -3 "$TMPD/stderr")"
  fi
elif [ "$rc" -eq 0 ]; then
  echo "note: the run finished before the signal came (a fast machine): the stop is not checked"
else
  fail "run stopped by SIGUSR1: exit $rc: $(tail -3 "$TMPD/stderr")"
fi
finish
