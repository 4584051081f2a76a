# test_prompt_variants.sh — a benchmark scored under several prompts (`prompt_variants`,
# docs/config.md): BBQ with the paper's prompt and lm-evaluation-harness's scores every item as
# the two separate entries (template: default / lm-eval) do, bit for bit; the rows without a
# template are the first variant's; each variant has its per-template rows and the spread across
# them; items.jsonl carries the variant and quipu report recomputes the same rows; a custom prompt
# variant on a generic file; the one-line errors.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets/bbq
model=$(tiny_model tiny-llama)

cat > "$TMPD/v.yaml" <<YAML
name: pv
output: $TMPD/v
datasets_dir: $QUIPU_SHARED/datasets
models:
  - {path: $model, name: tiny}
metrics: {bootstrap: 20}
progress_interval: 0
benchmarks:
  - name: bbq
    categories: [Age]
    limit: 8
    sample: spread
    prompt_variants:
      - {id: paper}
      - {id: lm-eval, template: lm-eval}
      - {id: qa, prompt: "{context}\nQuestion: {question}\nAnswer:"}
  - {name: bbq, label: bbq_default, categories: [Age], limit: 8, sample: spread}
  - {name: bbq, label: bbq_lm, categories: [Age], limit: 8, sample: spread, template: lm-eval}
YAML
if "$QUIPU_BIN" run "$TMPD/v.yaml" > "$TMPD/stdout" 2> "$TMPD/stderr"; then
  ok "a run with prompt variants"
  got=$(python3 - "$TMPD/v" <<'PY' 2>&1
import json, subprocess, sys
d = sys.argv[1]
items = [json.loads(l) for l in subprocess.run(["zstdcat", d + "/items.jsonl.zst"], capture_output=True, text=True).stdout.splitlines()]
by = {}
for i in items:
    by.setdefault(i["benchmark"], {})[i["id"].split(":", 1)[1]] = i
pv, dflt, lm = by["bbq"], by["bbq_default"], by["bbq_lm"]
assert len(pv) == 24 and len(dflt) == 8 and len(lm) == 8, (len(pv), len(dflt), len(lm))
for k, i in dflt.items():  # the same item under each variant: the separate entries' bits
    a, b = pv[k + "@paper"], pv[k + "@lm-eval"]
    assert a["lp"] == i["lp"] and b["lp"] == lm[k]["lp"], k
    assert (a["template"], a["variant"], b["template"], b["variant"]) == ("paper", 1, "lm-eval", 2), (a, b)
    assert len(b["lp"]) == 12 and len(a["lp"]) == 3 and pv[k + "@qa"]["variant"] == 3
s = json.load(open(d + "/summary.json"))
main = {(r["benchmark"], r["language"], r["culture"], r["category"], r["metric"]): (r["value"], r["n"]) for r in s["metrics"]}
tpl = {(r["benchmark"], r["template"], r["language"], r["culture"], r["metric"]): (r["value"], r["n"]) for r in s["templates"]}
n_rows = 0
for (b, lang, cult, cat, m), v in main.items():
    if b == "bbq" and cat == "all":  # the rows without a template: the first variant's, as the default entry's
        assert v == tpl[("bbq", "paper", lang, cult, m)] == main[("bbq_default", lang, cult, cat, m)], (m, v)
        assert tpl[("bbq", "lm-eval", lang, cult, m)] == main[("bbq_lm", lang, cult, cat, m)], m
        n_rows += 1
spread = [r for r in s["template_spread"] if r["benchmark"] == "bbq"]
assert spread and all(r["n_templates_all"] == 3 for r in spread), spread
print("ok", n_rows, "rows,", len(spread), "spread rows")
PY
)
  case "$got" in ok*) ok "paper and lm-eval variants == the separate entries, bit for bit; ${got#ok }" ;; *) fail "variants: $got" ;; esac
  # quipu report recomputes the rows from items.jsonl.zst: the first variant's again
  if "$QUIPU_BIN" report "$TMPD/v" --out "$TMPD/rep" > /dev/null 2> "$TMPD/err"; then
    got=$(python3 - "$TMPD/v/summary.json" "$TMPD/rep/comparison.csv" "$TMPD/rep/report.md" <<'PY' 2>&1
import json, sys
s = json.load(open(sys.argv[1]))
md = open(sys.argv[3]).read()
sec = md.split("### bbq\n", 1)[1].split("###", 1)[0]
n = 0
for r in s["metrics"]:
    if r["benchmark"] == "bbq" and r["category"] == "all" and r["metric"] in ("s_dis", "s_amb") and r["value"] is not None:
        want = f'| {r["language"]} | {r["culture"]} | {r["metric"]} | {r["value"]:.3f} '
        assert want in sec, (want, sec)
        n += 1
assert n >= 1, n
print("ok")
PY
)
    case "$got" in ok*) ok "quipu report gives the first variant's rows" ;; *) fail "report: $got" ;; esac
    # and its sensitivity section: the spread rows of summary.json, a chart per metric per template
    n_spread=$(python3 -c 'import json, sys; print(sum(1 for r in json.load(open(sys.argv[1]))["template_spread"] if r["benchmark"] == "bbq" and r["metric"] in ("s_dis", "s_amb")))' "$TMPD/v/summary.json")
    n_md=$(sed -n '/^## Sensitivity to wording/,/^## /p' "$TMPD/rep/report.md" | grep -c '^| tiny | bbq | ')
    n_svg=$(ls "$TMPD"/rep/plots/templates/bbq__*.svg 2>/dev/null | wc -l)
    [ "$n_spread" -ge 1 ] && [ "$n_md" = "$n_spread" ] && [ "$n_svg" -ge 1 ] && grep -q 'plots/templates/bbq__' "$TMPD/rep/report.md" \
      && ok "quipu report: sensitivity to wording ($n_md spread rows, $n_svg per-template charts)" \
      || fail "report sensitivity: $n_md rows for $n_spread spread rows, $n_svg charts"

  else
    fail "quipu report: $(tail -1 "$TMPD/err")"
  fi
else
  fail "run with prompt variants: $(grep quipu "$TMPD/stderr" | tail -2)"
fi

# errors, one line each at FILE:LINE:COL
bad() { # name yaml-of-the-benchmark pattern
  printf 'name: e\noutput: %s\ndatasets_dir: %s\nmodels:\n  - {path: %s, name: tiny}\nbenchmarks:\n%s\n' "$TMPD/e" "$QUIPU_SHARED/datasets" "$model" "$2" > "$TMPD/e.yaml"
  expect_error "$1" "$3" "$QUIPU_BIN" run "$TMPD/e.yaml"
}
printf '{"id": 1, "more": "A.", "less": "B.", "language": "en", "culture": "US"}\n' > "$TMPD/p.jsonl"
bad "variants on pairs" "  - {name: p, format: pairs, path: $TMPD/p.jsonl, prompt_variants: [{id: a}, {id: b}]}" \
  "e.yaml:7:.*benchmarks.0.prompt_variants: a pairs benchmark scores sentences without a prompt"
bad "one variant" "  - {name: bbq, prompt_variants: [{id: a}]}" "e.yaml:7:.*prompt_variants: lists 1 variant; give at least 2"
bad "duplicate id" "  - {name: bbq, prompt_variants: [{id: a}, {id: a}]}" "e.yaml:7:.*prompt_variants.1.id: variant 'a' is given twice"
bad "lm-eval variant without a task" "  - {name: sesgo, prompt_variants: [{id: a}, {id: b, template: lm-eval}]}" \
  "e.yaml:7:.*prompt_variants.1.template: lm-evaluation-harness has no task for 'sesgo'"
bad "bad placeholder" "  - {name: bbq, prompt_variants: [{id: a}, {id: b, prompt: \"{contexto}\"}]}" "e.yaml:7:.*prompt_variants.1.prompt: "
bad "unknown key" "  - {name: bbq, prompt_variants: [{id: a}, {id: b, promt: x}]}" "e.yaml:7:.*unknown key 'promt' \\(did you mean 'prompt'\\?\\)"
finish
