# test_first_day.sh — what a new user runs into first: an output folder under parents that do
# not exist yet is created; a build without MPI started as one of several ranks stops with one
# line instead of running full copies side by side (checked where this quipu has no MPI: the
# build of scripts/build-kernels.sh, which CI runs; an MPI build skips that part, saying so).
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
model=$(tiny_model tiny-llama)
cat > "$TMPD/c.yaml" <<YAML
name: t
output: $TMPD/out
datasets_dir: $QUIPU_SHARED/datasets
models:
  - {path: $model, name: tiny}
benchmarks:
  - {name: crows_pairs_en, limit: 3}
metrics: {bootstrap: 10}
progress_interval: 0
YAML
nested="$TMPD/new/deeper/still/run"
if "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$nested" > "$TMPD/o" 2> "$TMPD/e" && [ -s "$nested/summary.json" ]; then
  ok "output under three missing parents: created"
else
  fail "nested output: $(tail -2 "$TMPD/e")"
fi
mkdir -p "$TMPD/ro" && chmod 555 "$TMPD/ro"
if [ "$(id -u)" -ne 0 ]; then
  expect_error "output under a read-only folder, at config time" "output: cannot create .*not writable" \
    "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/ro/x/y"
else
  echo "note: running as root, which may write anywhere: the read-only case is not checked"
fi
if "$QUIPU_BIN" --version | grep -q "no MPI"; then
  expect_error "a build without MPI under a 2-rank launcher" "built without MPI but was started as one of 2 ranks \\(OMPI_COMM_WORLD_SIZE=2\\)" \
    env OMPI_COMM_WORLD_SIZE=2 "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/o2"
  expect_error "a build without MPI in a 4-task srun step" "started as one of 4 ranks \\(SLURM_STEP_NUM_TASKS=4\\)" \
    env SLURM_STEP_NUM_TASKS=4 "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/o3"
  [ ! -e "$TMPD/o2/summary.json" ] && ok "nothing scored by the refused copies" || fail "a refused copy wrote results"
else
  echo "note: this quipu has MPI; the guard of builds without it is checked in build-cuda/ (scripts/build-kernels.sh)"
fi
# quipu list: one line per built-in, every config benchmark name listed, every metric with its docs
"$QUIPU_BIN" list benchmarks > "$TMPD/lb" && "$QUIPU_BIN" list metrics > "$TMPD/lm" || fail "quipu list failed"
for b in crows_pairs_en crows_pairs_fr crows_pairs_en_revised bbq esbbq cabbq sesgo kobbq mbbq_es stereoset_intra; do
  grep -q "^$b " "$TMPD/lb" || fail "quipu list benchmarks: $b missing"
done
missing=$(grep -v -c 'docs/metrics.md#' "$TMPD/lm" || true)
[ "$(wc -l < "$TMPD/lm")" -ge 19 ] && [ "$missing" = 0 ] && grep -q '^s_dis .*2 n_biased' "$TMPD/lm" \
  && ok "quipu list: $(wc -l < "$TMPD/lb") benchmark lines, $(wc -l < "$TMPD/lm") metrics with their docs" || fail "quipu list metrics: $(head -3 "$TMPD/lm")"
for a in $(grep -o 'docs/metrics.md#[a-z0-9-]*' "$TMPD/lm" | sort -u | cut -d'#' -f2); do
  # the anchor GitHub makes of each heading: lower case, punctuation dropped, spaces to dashes
  grep '^#' "$QUIPU_SOURCE_DIR/docs/metrics.md" | sed 's/^#* //' | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 -]//g; s/ /-/g' | grep -qx "$a" \
    || fail "quipu list metrics points at docs/metrics.md#$a, which no heading makes"
done
# item_text: items.jsonl.zst carries the text scored
"$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/txt" --set item_text=true > /dev/null 2>&1
zstdcat "$TMPD/txt/items.jsonl.zst" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert rows and all(r["prompt"] == "" and len(r["choices"]) == 2 and len(r["lp"]) == 2 for r in rows), rows[0]
assert all(r["choices"][0] and r["choices"][0] != r["choices"][1] for r in rows)' \
  && ok "item_text: prompt and choices in items.jsonl.zst" || fail "item_text"
# on_bad_row: skip says how many rows were left out and why, on the console and in summary.md
printf '%s\n' '{"id": 1, "more": "He is a nurse.", "less": "She is a nurse.", "category": "gender", "language": "en", "culture": "US"}' \
  '{"id": 2, "more": "broken row"' \
  '{"id": 3, "more": "The old man forgot.", "less": "The young man forgot.", "category": "age", "language": "en", "culture": "US"}' > "$TMPD/p.jsonl"
"$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/skip" --set "benchmarks.0={name: mine, format: pairs, path: $TMPD/p.jsonl, on_bad_row: skip}" \
  > /dev/null 2> "$TMPD/skip.err"
if grep -q "benchmark mine: 1 malformed row skipped.*p.jsonl:2:" "$TMPD/skip.err" && grep -q "^## Rows left out" "$TMPD/skip/summary.md" \
   && grep -q "p.jsonl:2: bad JSON" "$TMPD/skip/summary.md"; then
  ok "skipped rows: counted and explained on the console and in summary.md"
else
  fail "skipped rows: $(tail -2 "$TMPD/skip.err")"
fi
# Ctrl-C says what it does: the first stops after the current batch (exit 75), a second quits now
sigrun() { # out n_signals: signals come once the first batch is journaled, so mid-way through the
  # second (about 2 s of work each); a second signal as soon as the first is taken
  "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$1" --set benchmarks.0.limit=1500 --set scoring.batch_tokens=16384 \
    > /dev/null 2> "$1.err" &
  local pid=$! i
  for i in $(seq 1 600); do
    [ -n "$(find "$1/journal" -name '*.jsonl' -size +0 2>/dev/null)" ] && break
    sleep 0.05
  done
  sleep 0.1
  kill -INT "$pid" 2>/dev/null
  if [ "$2" = 2 ]; then # the second once the first has been taken (its message is out)
    for i in $(seq 1 100); do grep -q "stopping after the current batch" "$1.err" && break; sleep 0.01; done
    kill -INT "$pid" 2>/dev/null
  fi
  local rc=0
  wait "$pid" || rc=$?
  echo "$rc"
}
rc=$(sigrun "$TMPD/int1" 1)
if [ "$rc" = 75 ] && grep -q "stopping after the current batch (Ctrl-C again to quit now)" "$TMPD/int1.err"; then
  ok "Ctrl-C: says it stops after the current batch, exit 75"
else
  fail "Ctrl-C once: rc $rc: $(tail -2 "$TMPD/int1.err")"
fi
rc=$(sigrun "$TMPD/int2" 2)
if [ "$rc" = 130 ] && grep -q "rerun with --resume" "$TMPD/int2.err"; then
  ok "Ctrl-C twice: quits at once, exit 130, says --resume continues"
else
  fail "Ctrl-C twice: rc $rc: $(tail -2 "$TMPD/int2.err")"
fi
finish
