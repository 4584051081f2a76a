# test_blend_run.sh — BLEnD end to end on the tiny Llama, from the staged files: Spanish questions
# about Mexico and Spain and English questions about all 16 countries (a spread sample of each),
# scored by log-likelihood over their 4 choices; acc per language x country x topic in
# summary.json equal to a recomputation from items.jsonl.zst (argmax of the log-probs, ties to
# the first, against the label), each with its CI; the prompts are BLEnD's inst-4 in the
# question's language; 1 vs 2 ranks byte-identical; the console's per-culture table; and the
# one-line error when the datasets folder lacks BLEnD.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
need_shared tokenizers datasets/blend/data/annotations/Mexico_data.json
model=$(tiny_model tiny-llama)

cat > "$TMPD/c.yaml" <<YAML
name: blend
output: $TMPD/unused
datasets_dir: $QUIPU_SHARED/datasets
models:
  - {path: $model, name: tiny}
metrics: {bootstrap: 200}
progress_interval: 0
item_text: true
benchmarks:
  - {name: blend, label: blend_es, languages: [es], limit: 60, sample: spread}
  - {name: blend, label: blend_en, languages: [en], limit: 48, sample: spread}
YAML
if "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/a" > "$TMPD/stdout" 2> "$TMPD/stderr"; then
  ok "blend runs on the tiny model"
else
  fail "run: $(tail -3 "$TMPD/stderr")"
fi

check=$(python3 - "$TMPD/a" <<'PY' 2>&1
import json, subprocess, sys, collections
d = sys.argv[1]
items = [json.loads(l) for l in subprocess.run(["zstdcat", d + "/items.jsonl.zst"], capture_output=True, text=True).stdout.splitlines()]
summ = json.load(open(d + "/summary.json"))
assert {b["label"]: b["items"] for b in summ["benchmarks"]} == {"blend_es": 60, "blend_en": 48}, summ["benchmarks"]
assert len(items) == 108, len(items)
assert all(i["kind"] == "mc" and len(i["lp"]) == 4 and 0 <= i["label"] < 4 for i in items)
langs = collections.Counter((i["language"], i["culture"]) for i in items)
assert set(langs) >= {("es-MX", "MX"), ("es-ES", "ES"), ("en", "MX"), ("en", "US"), ("en", "GB")}, langs
assert all(l in ("es-MX", "es-ES") for l, _ in langs if l != "en"), langs
for i in items:
    p = i["prompt"]
    want = {"es-MX": "Lea la siguiente pregunta", "es-ES": "Lee la siguiente pregunta"}.get(i["language"], "Read the following question")
    assert p.startswith(want) and p.endswith(("Respuesta:", "Answer:")), (i["id"], p)
    assert all(c.startswith(" ") for c in i["choices"]), i["choices"]
def acc(its):
    ok = sum(max(range(4), key=lambda c: (i["lp"][c], -c)) == i["label"] for i in its)
    return ok / len(its)
groups = collections.defaultdict(list)
for i in items:
    b = "blend_es" if i["language"] != "en" else "blend_en"
    groups[(b, i["language"], i["culture"], "all")].append(i)
    groups[(b, i["language"], i["culture"], i["category"])].append(i)
rows = {(r["benchmark"], r["language"], r["culture"], r["category"]): r for r in summ["metrics"] if r["metric"] == "acc"}
for k, its in groups.items():
    r = rows[k]
    assert r["n"] == len(its) and abs(r["value"] - acc(its)) <= 1e-12, (k, r, acc(its), len(its))
    if len(its) > 1: assert r["ci_low"] <= r["value"] <= r["ci_high"], r
    else: assert r["ci_low"] is None and "single item" in r["note"], r
mx = rows[("blend_es", "es-MX", "MX", "all")]; es = rows[("blend_es", "es-ES", "ES", "all")]
print("ok es-MX %.3f (n %d) es-ES %.3f (n %d), %d groups" % (mx["value"], mx["n"], es["value"], es["n"], len(groups)))
PY
)
case "$check" in ok*) ok "acc per language x country x topic equals a recomputation from items.jsonl (${check#ok })" ;;
                 *) fail "recomputation: $check" ;; esac
grep -q "^| blend_es | es-MX | MX | acc | " "$TMPD/stdout" && grep -q "^| blend_en | en | US | acc | " "$TMPD/stdout" \
  && ok "the console's per-culture table has blend's countries" || fail "console: $(grep blend "$TMPD/stdout" | head -3)"

if command -v mpirun >/dev/null && "$QUIPU_TEST_BIN_DIR/test_comm" 2>/dev/null | grep -q "MPI on"; then
  if mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/r2" > "$TMPD/stdout2" 2> "$TMPD/stderr"; then
    bad=""
    for f in summary.json summary.md summary.csv items.jsonl.zst; do cmp -s "$TMPD/a/$f" "$TMPD/r2/$f" || bad="$bad $f"; done
    [ -z "$bad" ] && ok "mpirun -n 2: identical results" || fail "mpirun -n 2: differ in$bad"
  else
    fail "mpirun -n 2: $(tail -3 "$TMPD/stderr")"
  fi
else
  echo "note: no MPI here: 1 vs 2 ranks not compared"
fi

mkdir -p "$TMPD/empty"
expect_error "BLEnD not in the datasets folder" "blend/data/annotations/Algeria_data.json.*scripts/fetch-datasets.sh" \
  "$QUIPU_BIN" run "$TMPD/c.yaml" --set "output=$TMPD/e" --set "datasets_dir=$TMPD/empty"
"$QUIPU_BIN" list benchmarks | grep -q '^blend  *BLEnD' && ok "quipu list benchmarks names blend" || fail "quipu list benchmarks lacks blend"
finish
