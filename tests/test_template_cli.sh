# test_template_cli.sh — `quipu expand` (src/template.c): the example definitions expand to the
# documented counts, byte-identical twice, stdout equal to -o; a bad definition prints every
# problem as FILE:LINE:COL and exits 2 writing nothing; and a tiny `quipu run` names a definition
# directly (format: template) next to its expanded file (format: pairs): same items, same scores.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
defs="$QUIPU_SOURCE_DIR/configs/templates"
for k in pairs:80 mc:60; do
  kind=${k%%:*} want=${k##*:}
  if "$QUIPU_BIN" expand "$defs/latam_es_$kind.yaml" -o "$TMPD/$kind.1.jsonl" 2> "$TMPD/err" \
     && "$QUIPU_BIN" expand "$defs/latam_es_$kind.yaml" > "$TMPD/$kind.2.jsonl" 2> /dev/null; then
    n=$(wc -l < "$TMPD/$kind.1.jsonl")
    [ "$n" -eq "$want" ] && ok "latam_es_$kind: $n items ($(cat "$TMPD/err"))" || fail "latam_es_$kind: $n items, expected $want"
    cmp -s "$TMPD/$kind.1.jsonl" "$TMPD/$kind.2.jsonl" && ok "latam_es_$kind: two expansions byte-identical" \
      || fail "latam_es_$kind: two expansions differ"
  else
    fail "expand latam_es_$kind: $(head -3 "$TMPD/err")"
  fi
done

cat > "$TMPD/bad.yaml" <<'YAML'
kind: pairs
cultures: {CL: es-CL}
slots:
  GROUP: [{text: A, role: target}, {text: B, role: other}]
  EMPTY: []
templates:
  - id: a
    text: "{GROUP} {MISSING}."
    differ: GROUP
    colour: red
YAML
rc=0
"$QUIPU_BIN" expand "$TMPD/bad.yaml" -o "$TMPD/bad.jsonl" > /dev/null 2> "$TMPD/err" || rc=$?
[ "$rc" -eq 2 ] && ok "bad definition: exit 2" || fail "bad definition: exit $rc"
cat > "$TMPD/want" <<EOF2
$TMPD/bad.yaml:5:10: slots.EMPTY: empty list: a slot list needs at least one filler
$TMPD/bad.yaml:8:11: templates.0.text: undefined slot 'MISSING' (slots: GROUP, EMPTY)
$TMPD/bad.yaml:10:5: unknown key 'colour' in templates.0 (expected one of: id, category, cultures, text, differ, match, direction)
EOF2
diff "$TMPD/want" "$TMPD/err" > /dev/null && ok "bad definition: every problem with file:line:column" \
  || fail "bad definition messages: $(diff "$TMPD/want" "$TMPD/err" | head -5)"
[ ! -e "$TMPD/bad.jsonl" ] && ok "bad definition: nothing written" || fail "bad definition: output written"
expect_error "missing definition" "nope.yaml" "$QUIPU_BIN" expand "$TMPD/nope.yaml"

# end to end: the definition named in a run config, and its expansion as generic pairs
need_shared tokenizers
model=$(tiny_model tiny-llama)
cat > "$TMPD/run.yaml" <<YAML
name: tpl
output: $TMPD/run_out
models:
  - {path: $model, name: tiny}
metrics: {bootstrap: 10}
progress_interval: 0
benchmarks:
  - {name: latam_tpl, format: template, path: $defs/latam_es_pairs.yaml, limit: 12, sample: spread}
  - {name: latam_jsonl, format: pairs, path: $TMPD/pairs.1.jsonl, limit: 12, sample: spread}
  - {name: names_tpl, format: template, path: $defs/latam_es_names_mc.yaml}
  - {name: names_jsonl, format: mc, path: $TMPD/names.jsonl}
YAML
"$QUIPU_BIN" expand "$defs/latam_es_names_mc.yaml" -o "$TMPD/names.jsonl" 2> /dev/null || fail "expand latam_es_names_mc.yaml"
if "$QUIPU_BIN" run "$TMPD/run.yaml" > "$TMPD/stdout" 2> "$TMPD/stderr"; then
  ok "quipu run with format: template"
  recs() { zstdcat "$TMPD/run_out/items.jsonl.zst" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["benchmark"] == sys.argv[1]:
        print(r["id"].split(":", 1)[1], r["lp"], r["nt"])' "$1"; }
  recs latam_tpl > "$TMPD/a"
  recs latam_jsonl > "$TMPD/b"
  [ "$(wc -l < "$TMPD/a")" -eq 12 ] && cmp -s "$TMPD/a" "$TMPD/b" \
    && ok "format: template and the expanded file score the same 12 items" \
    || fail "template vs jsonl records: $(wc -l < "$TMPD/a") items; $(diff "$TMPD/a" "$TMPD/b" | head -3)"
  grep -q '"format": "template"' "$TMPD/run_out/manifest.json" && ok "manifest names format: template" \
    || fail "manifest does not name format: template"
  grep -q 'latam_es_pairs.yaml' "$TMPD/run_out/manifest.json" && ok "manifest lists the definition file" \
    || fail "manifest does not list the definition file"
  # the template ids reach items.jsonl.zst and the per-template rows, the same both ways
  got=$(python3 - "$TMPD/run_out" <<'PY' 2>&1
import json, subprocess, sys
d = sys.argv[1]
items = [json.loads(l) for l in subprocess.run(["zstdcat", d + "/items.jsonl.zst"], capture_output=True, text=True).stdout.splitlines()]
tpl = {b: sorted((i["id"].split(":", 1)[1], i["template"]) for i in items if i["benchmark"] == b) for b in ("latam_tpl", "latam_jsonl")}
assert tpl["latam_tpl"] == tpl["latam_jsonl"] and all(t for _, t in tpl["latam_tpl"]), tpl
rows = json.load(open(d + "/summary.json"))["templates"]
per = {b: sorted((r["language"], r["culture"], r["template"], r["metric"], r["value"], r["n"]) for r in rows if r["benchmark"] == b)
       for b in ("latam_tpl", "latam_jsonl")}
assert per["latam_tpl"] and per["latam_tpl"] == per["latam_jsonl"], per
# each template's pairs: its pct_stereotype over all cultures is its share of wins
for t in {t for _, t in tpl["latam_tpl"]}:
    its = [i for i in items if i["benchmark"] == "latam_tpl" and i["template"] == t]
    want = 100 * sum(i["lp"][0] > i["lp"][1] for i in its) / len(its)
    r = [r for r in rows if r["benchmark"] == "latam_tpl" and r["template"] == t and r["culture"] == "all" and r["metric"] == "pct_stereotype"]
    assert len(r) == 1 and abs(r[0]["value"] - want) < 1e-9 and r[0]["n"] == len(its), (t, r, want)
print("ok", len(per["latam_tpl"]))
PY
)
  case "$got" in ok*) ok "template ids in items.jsonl and ${got#ok } per-template rows, equal for format: template and the expanded file" ;;
                   *) fail "per-template rows: $got" ;; esac
  head -1 "$TMPD/run_out/summary.csv" | grep -q ',template$' && ok "summary.csv has a template column" || fail "summary.csv header: $(head -1 "$TMPD/run_out/summary.csv")"
  # the spread across templates (docs/metrics.md "Spread across templates"): min, max, mean, sample
  # sd and range recomputed from the per-template rows; one row per metric of each 2+-template group
  got=$(python3 - "$TMPD/run_out" <<'PY' 2>&1
import json, math, sys
summ = json.load(open(sys.argv[1] + "/summary.json"))
per, spread = summ["templates"], summ["template_spread"]
groups = {}
for r in per:
    groups.setdefault((r["model"], r["benchmark"], r["language"], r["culture"], r["metric"]), []).append((r["template"], r["value"]))
want = {k: v for k, v in groups.items() if len(v) >= 2}
got = {(s["model"], s["benchmark"], s["language"], s["culture"], s["metric"]): s for s in spread}
assert set(want) == set(got) and len(spread) == len(got), (sorted(want), sorted(got))
for k, tv in want.items():
    s, vals = got[k], [(t, v) for t, v in tv if v is not None]
    assert s["n_templates"] == len(vals) and s["n_templates_all"] == len(tv), (k, s)
    if len(vals) < 2:
        assert s["sd"] is None and s["note"], s
        continue
    x = [v for _, v in vals]
    mean = sum(x) / len(x); sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1))
    near = lambda a, b: abs(a - b) <= 1e-9 * (1 + abs(b))
    assert near(s["mean"], mean) and near(s["sd"], sd) and near(s["range"], max(x) - min(x)), (k, s, x)
    assert s["min"] == min(x) and s["max"] == max(x), (k, s, x)
    assert s["min_template"] == min(vals, key=lambda tv: tv[1])[0] and s["max_template"] == max(vals, key=lambda tv: tv[1])[0], (k, s)
    assert s["sd_ci_low"] is None or s["sd_ci_low"] <= s["sd_ci_high"], s
print("ok", len(spread))
PY
)
  case "$got" in ok*) ok "${got#ok } template_spread rows agree with the per-template rows" ;; *) fail "template_spread: $got" ;; esac
  grep -q "spread across templates" "$TMPD/run_out/summary.md" && ok "summary.md has the spread table" || fail "summary.md: no spread table"
  # name-swap consistency (docs/metrics.md): the sets recounted here from the expansion's "swap"
  # keys and the scored log-probs: each decision is the predicted answer's role; a set's flips are
  # its pairs of items that decide differently. The definition and its expansion agree.
  got=$(python3 - "$TMPD/run_out" "$TMPD/names.jsonl" <<'PY' 2>&1
import json, subprocess, sys
d = sys.argv[1]
exp = {o["id"]: o for o in map(json.loads, open(sys.argv[2]))}
items = [json.loads(l) for l in subprocess.run(["zstdcat", d + "/items.jsonl.zst"], capture_output=True, text=True).stdout.splitlines()]
rows = json.load(open(d + "/summary.json"))["name_swap"]
n_rows = 0
for bench in ("names_tpl", "names_jsonl"):
    sets = {}
    for i in items:
        if i["benchmark"] != bench:
            continue
        e = exp[i["id"].split(":", 1)[1]]
        lp = i["lp"]
        p = max(range(len(lp)), key=lambda k: (lp[k], -k))
        dec = {e["target_choice"]: "T", e["other_choice"]: "O", e["unknown_choice"]: "U"}[p]
        for k in e["swap"]:
            sets.setdefault((e["language"], e["culture"], k.split("/")[0], k), []).append(dec)
    want = {}
    for (lang, cult, slot, _), ds in sets.items():
        w = want.setdefault((lang, cult, slot), [0, 0, 0, 0])
        cmp = len(ds) * (len(ds) - 1) // 2
        same = sum(ds.count(v) * (ds.count(v) - 1) // 2 for v in set(ds))
        w[0] += 1; w[1] += cmp; w[2] += cmp - same; w[3] += cmp == same
    got = {(r["language"], r["culture"], r["slot"]): r for r in rows if r["benchmark"] == bench}
    assert set(got) == set(want) and len(want) == 4, (sorted(got), sorted(want))
    for k, (ns, nc, nf, cons) in want.items():
        r = got[k]
        assert (r["sets"], r["comparisons"], r["flips"], r["consistent_sets"]) == (ns, nc, nf, cons) and ns == 16, (k, r, want[k])
        assert abs(r["flip_rate"] - nf / nc) < 1e-12, r
        assert r["ci_low"] is None or 0 <= r["ci_low"] <= r["flip_rate"] <= r["ci_high"] <= 1, r
    n_rows += len(want)
# (the intervals differ: each row's bootstrap stream is seeded from its tags, the benchmark's name among them)
a = sorted((r["language"], r["culture"], r["slot"], r["flips"], r["flip_rate"]) for r in rows if r["benchmark"] == "names_tpl")
b = sorted((r["language"], r["culture"], r["slot"], r["flips"], r["flip_rate"]) for r in rows if r["benchmark"] == "names_jsonl")
assert a == b, (a, b)
print("ok", n_rows, "rows;", ", ".join(f'{r["culture"]} {r["slot"]} {r["flips"]}/{r["comparisons"]}' for r in rows if r["benchmark"] == "names_tpl"))
PY
)
  case "$got" in ok*) ok "name_swap: ${got#ok }, recounted, equal for format: template and the expanded file" ;; *) fail "name_swap: $got" ;; esac
  grep -q "name-swap consistency" "$TMPD/run_out/summary.md" && ok "summary.md has the name-swap table" || fail "summary.md: no name-swap table"
  # 1 vs 2 ranks: the same summaries, byte for byte
  if command -v mpirun >/dev/null && "$QUIPU_TEST_BIN_DIR/test_comm" 2>/dev/null | grep -q "MPI on"; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    # LeakSanitizer reports Open MPI's own allocations (ompi_op_base_op_select, unloaded MCA
    # components) at exit for this run under -n 2, also with format: pairs and bootstrap 0; the
    # single-rank run above keeps leak checking for quipu's code
    if ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/run2" > "$TMPD/stdout" 2> "$TMPD/stderr"; then
      bad=""
      for f in summary.json summary.md summary.csv; do cmp -s "$TMPD/run_out/$f" "$TMPD/run2/$f" || bad="$bad $f"; done
      [ -z "$bad" ] && ok "1 vs 2 ranks: identical summaries with template_spread" || fail "1 vs 2 ranks differ in$bad"
    else
      fail "mpirun -n 2: $(tail -3 "$TMPD/stderr")"
    fi
  else
    echo "note: no MPI in this build or no mpirun: the 1 vs 2 ranks check not run"
  fi
else
  fail "quipu run with format: template: $(tail -3 "$TMPD/stderr")"
fi
finish
