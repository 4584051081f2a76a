# test_demo_subset.sh — the demo runs on a fresh machine: configs/demo.yaml reads the benchmark
# subset shipped in configs/demo/ with QUIPU_DATASETS unset and no ../shared beside it (run from a
# copy of configs/ in a temp folder, with small limits, on SmolLM2-135M or else the tiny test
# model); scripts/demo_pairs.py builds its pairs from the subset; a benchmark whose files are not
# in the datasets folder fails with one line naming scripts/fetch-datasets.sh and QUIPU_DATASETS;
# the subset holds only redistributable benchmarks, with their licences, stays small, and (where
# the full datasets are staged) is what scripts/make-demo-subset.py writes.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
unset QUIPU_DATASETS
SRC="$QUIPU_SOURCE_DIR"

if [ -f "$SMOL" ]; then
  model="$SMOL"
elif [ -d "$QUIPU_SHARED/tokenizers" ]; then
  model=$(tiny_model tiny-mistral)
else
  skip "neither $SMOL nor $QUIPU_SHARED/tokenizers (for the tiny test model) is here"
fi

# a fresh checkout's configs/, nothing beside it
W="$TMPD/fresh/quipu"
mkdir -p "$W"
cp -r "$SRC/configs" "$W/"
[ ! -e "$W/../shared" ] && ok "no ../shared beside the copy" || fail "$W/../shared exists"

# the subset: only the licensed benchmarks, each with its licence, small
D="$SRC/configs/demo"
for f in crows-pairs/data/crows_pairs_anonymized.csv \
         crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv \
         esbbq-cabbq/data_es/Age.full.csv esbbq-cabbq/data_es/SpanishRegion.full.csv \
         crows-pairs/NOTICE.md crows-pairs-fr/NOTICE.md esbbq-cabbq/NOTICE.md esbbq-cabbq/LICENSE.txt README.md; do
  [ -s "$D/$f" ] || fail "configs/demo/$f is missing"
done
ok "subset files and licence notices present"
if [ -e "$D/sesgo" ] || [ -e "$D/mbbq" ]; then fail "configs/demo has SESGO or MBBQ (no licence: not redistributable)"
else ok "no SESGO or MBBQ in configs/demo"; fi
bytes=$(du -sb "$D" | cut -f1)
[ "$bytes" -lt 1000000 ] && ok "configs/demo is $bytes bytes" || fail "configs/demo is $bytes bytes (over 1 MB)"

# the demo config on the subset, from the copy, with the smallest limits
cd "$W"
rc=0
"$QUIPU_BIN" run configs/demo.yaml --set "output=$TMPD/run1" --set "models.0.path=$model" \
  --set benchmarks.0.limit=4 --set benchmarks.1.limit=4 --set benchmarks.2.limit=6 \
  --set metrics.bootstrap=100 --set scoring.threads=2 --set progress_interval=0 \
  > "$TMPD/stdout" 2> "$TMPD/stderr" || rc=$?
if [ "$rc" -eq 0 ]; then ok "quipu run configs/demo.yaml (QUIPU_DATASETS unset, model $(basename "$model"))"
else fail "quipu run configs/demo.yaml: exit $rc: $(tail -3 "$TMPD/stderr")"; fi
python3 - "$TMPD/run1" <<'PY' && ok "summary.json: crows_pairs_en, crows_pairs_fr, esbbq from configs/demo" || fail "summary/manifest content"
import json, sys
d = sys.argv[1]
s = json.load(open(f"{d}/summary.json"))
b = {x["label"]: x["items"] for x in s["benchmarks"]}
assert b == {"crows_pairs_en": 4, "crows_pairs_fr": 4, "esbbq": 6}, b
assert {m["benchmark"] for m in s["metrics"]} == set(b), {m["benchmark"] for m in s["metrics"]}
m = json.load(open(f"{d}/manifest.json"))
assert m["datasets_dir"] == "configs/demo", m["datasets_dir"]
files = [f["path"] for ds in m["datasets"] for f in ds["files"]]
assert len(files) == 12 and all(p.startswith("configs/demo/") for p in files), files
PY
grep -q "^| esbbq | es-ES | ES | " "$TMPD/stdout" && ok "per-culture table has EsBBQ (es-ES, ES)" \
  || fail "console table: $(head -12 "$TMPD/stdout")"

# the demo's pairs from the subset
if python3 "$SRC/scripts/demo_pairs.py" make configs/demo 4 > "$TMPD/pairs.jsonl" 2> "$TMPD/perr" \
   && [ "$(wc -l < "$TMPD/pairs.jsonl")" -eq 24 ] && grep -q '"bench": "esbbq"' "$TMPD/pairs.jsonl"; then
  ok "demo_pairs.py: 4 pairs each of CrowS-Pairs en, fr and EsBBQ from configs/demo"
else
  fail "demo_pairs.py make: $(head -3 "$TMPD/perr")"
fi
rc=0
python3 "$SRC/scripts/demo_pairs.py" make "$TMPD/nothing" 4 > /dev/null 2> "$TMPD/perr" || rc=$?
if [ "$rc" -ne 0 ] && grep -q "scripts/fetch-datasets.sh" "$TMPD/perr" && grep -q "QUIPU_DATASETS" "$TMPD/perr"; then
  ok "demo_pairs.py without data names the fix"
else
  fail "demo_pairs.py without data: exit $rc: $(cat "$TMPD/perr")"
fi

# a benchmark whose files are not in the datasets folder: one line that names the fix
expect_error "sesgo is not in the subset" "sesgo.*scripts/fetch-datasets\.sh.*QUIPU_DATASETS" \
  "$QUIPU_BIN" run configs/demo.yaml --set "output=$TMPD/run2" --set "models.0.path=$model" --set benchmarks.2.name=sesgo
expect_error "mbbq_es is not in the subset" "mbbq.*scripts/fetch-datasets\.sh.*QUIPU_DATASETS" \
  "$QUIPU_BIN" run configs/demo.yaml --set "output=$TMPD/run3" --set "models.0.path=$model" --set benchmarks.0.name=mbbq_es

# the subset is what the script writes from the full datasets
if [ -f "$QUIPU_SHARED/datasets/MANIFEST.md" ]; then
  if python3 "$SRC/scripts/make-demo-subset.py" --datasets "$QUIPU_SHARED/datasets" --out "$D" --check > "$TMPD/mk" 2>&1; then
    ok "$(cat "$TMPD/mk")"
  else
    fail "$(cat "$TMPD/mk")"
  fi
else
  echo "note: $QUIPU_SHARED/datasets is absent: make-demo-subset.py --check not run"
fi
finish
