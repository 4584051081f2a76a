# test_report_expected.sh — `quipu report --expected` end to end: a tiny-Llama run on 8 hand-made
# pairs, then published numbers chosen around its values (one row inside its interval, one
# outside, one published as a point, one the run lacks); the table printed and written exactly as
# below, expected.csv's statuses, the config route (the run's own config holding `expected:`),
# and the one-line errors.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers
model=$(tiny_model tiny-llama)

: > "$TMPD/pairs.jsonl"
for w in doctor nurse pilot farmer teacher baker lawyer driver; do
  printf '{"id": "%s", "more": "The %s was poor.", "less": "The %s was rich.", "category": "ses", "language": "en-US", "culture": "US", "direction": "stereo"}\n' \
    "$w" "$w" "$w" >> "$TMPD/pairs.jsonl"
done
cat > "$TMPD/c.yaml" <<YAML
name: tiny-expected
output: $TMPD/run
seed: 7
models:
  - {path: $model, name: tiny}
benchmarks:
  - {name: toy, path: $TMPD/pairs.jsonl, format: pairs}
metrics: {include: [pct_stereotype, likelihood_diff], bootstrap: 200}
progress_interval: 0
YAML
if "$QUIPU_BIN" run "$TMPD/c.yaml" > "$TMPD/run.out" 2> "$TMPD/run.err"; then ok "tiny run"; else fail "tiny run: $(tail -2 "$TMPD/run.err")"; fi
# the run: pct_stereotype 12.5 [0, 37.5], likelihood_diff 4.3329 [3.2722, 5.4256] (n=8)
cat > "$TMPD/exp.yaml" <<'YAML'
expected:
  - {model: tiny, benchmark: toy, metric: pct_stereotype, value: 15, ci_low: 10, ci_high: 20, source: inside}
  - {model: tiny, benchmark: toy, language: en-US, culture: US, metric: likelihood_diff, value: 3.0, stderr: 0.1, source: outside}
  - {model: tiny, benchmark: toy, category: ses, metric: pct_stereotype, value: 12.5, source: a point}
  - {model: tiny, benchmark: toy, metric: pct_neutral, value: 0, stderr: 1}
YAML
if "$QUIPU_BIN" report --expected "$TMPD/exp.yaml" "$TMPD/run" --out "$TMPD/rep" > "$TMPD/out" 2> "$TMPD/err"; then
  ok "report --expected"
else
  fail "report --expected: $(tail -2 "$TMPD/err")"
fi
cat > "$TMPD/want" <<'MD'
## Published numbers vs TMP/run

Published: TMP/exp.yaml (4 rows). Run: tiny-expected, 95% bootstrap intervals. A published stderr s gives the interval value ± 1.96·s; a value published without one is a point.

| model | benchmark | language | culture | category | metric | published | published interval | quipu [CI] (n) | quipu − published | quipu in published interval | intervals overlap | source |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| tiny | toy | en-US | US | all | pct_stereotype | 15.00 | [10.00, 20.00] | 12.50 [0.00, 37.50] (n=8) | -2.50 | yes | yes | inside |
| tiny | toy | en-US | US | all | likelihood_diff | 3.0000 | [2.8040, 3.1960] (± 0.1000 se) | 4.3329 [3.2722, 5.4256] (n=8) | 1.3329 | no | no | outside |
| tiny | toy | en-US | US | ses | pct_stereotype | 12.50 | — | 12.50 [0.00, 37.50] (n=8) | 0.00 | — | yes | a point |
| tiny | toy | * | * | all | pct_neutral | 0.00 | [-1.96, 1.96] (± 1.00 se) | missing: the run has no such row | — | — | — | — |

Within the published interval: 1; outside: 1; published without an interval: 1; undefined in the run: 0; missing from the run: 1.
MD
sed "s|$TMPD|TMP|g" "$TMPD/out" > "$TMPD/got"
diff "$TMPD/want" "$TMPD/got" > "$TMPD/diff" && ok "the table, exactly" || fail "the table differs: $(cat "$TMPD/diff")"
sed "s|$TMPD|TMP|g" "$TMPD/rep/expected.md" | diff -q "$TMPD/want" - > /dev/null && ok "expected.md is the printed table" || fail "expected.md differs"
cut -d, -f6,16-18 "$TMPD/rep/expected.csv" > "$TMPD/csv"
printf 'metric,within,overlap,status\npct_stereotype,yes,yes,ok\nlikelihood_diff,no,no,ok\npct_stereotype,,yes,ok\npct_neutral,,,missing\n' \
  | diff - "$TMPD/csv" > /dev/null && ok "expected.csv statuses" || fail "expected.csv: $(cat "$TMPD/csv")"

# the config route: the run's own config carrying the published numbers
{ cat "$TMPD/c.yaml"; sed -n '1,3p' "$TMPD/exp.yaml"; } > "$TMPD/c2.yaml"
"$QUIPU_BIN" report --expected "$TMPD/c2.yaml" "$TMPD/run" --out "$TMPD/rep2" > "$TMPD/out2" 2> "$TMPD/err2" \
  && grep -q "| tiny | toy | en-US | US | all | pct_stereotype | 15.00 | \[10.00, 20.00\] | 12.50" "$TMPD/out2" \
  && ok "a config's expected: list" || fail "config route: $(tail -2 "$TMPD/err2")"

# errors: one line each, naming the file
printf 'expected:\n  - {model: tiny, benchmark: toy, metric: pct_stereo, value: 1}\n' > "$TMPD/bad.yaml"
expect_error "unknown metric in the list" "bad.yaml:2:43: expected.0.metric: unknown metric 'pct_stereo'" \
  "$QUIPU_BIN" report --expected "$TMPD/bad.yaml" "$TMPD/run" --out "$TMPD/r3"

expect_error "a config without expected:" "c.yaml: no 'expected' list" "$QUIPU_BIN" report --expected "$TMPD/c.yaml" "$TMPD/run" --out "$TMPD/r3"
expect_error "missing run" "nope: no such run folder" "$QUIPU_BIN" report --expected "$TMPD/exp.yaml" "$TMPD/nope" --out "$TMPD/r3"
expect_error "two runs" "one run folder with the published numbers, got 2" \
  "$QUIPU_BIN" report --expected "$TMPD/exp.yaml" "$TMPD/run" "$TMPD/run" --out "$TMPD/r3"
finish
