# test_report_cli.sh — `quipu report` from the command line on the committed golden runs
# (tests/golden/report): tables on stdout, report.md, comparison.csv and SVGs that python3's XML
# parser reads; one-line errors for a missing run folder, a folder without summary.json, a
# corrupted items.jsonl.zst and an unknown --metric. The library side is in test_report.c.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
GOLD="$QUIPU_SOURCE_DIR/tests/golden/report"

"$QUIPU_BIN" report --help > "$TMPD/help" 2>&1 || skip "this build's quipu has no report command yet"
grep -q "usage: quipu report RUN_DIR" "$TMPD/help" && ok "report --help" || fail "report --help: $(head -2 "$TMPD/help")"

if "$QUIPU_BIN" report "$GOLD/run-a" "$GOLD/run-b" --out "$TMPD/r" > "$TMPD/stdout" 2> "$TMPD/stderr"; then
  ok "report on the golden runs"
else
  fail "report on the golden runs: $(tail -2 "$TMPD/stderr")"
fi
grep -q "| en-US | US | pct_stereotype | 62.5 \[" "$TMPD/stdout" && ok "tables printed" || fail "no pct_stereotype row on stdout"
grep -q "| crows_pairs_en | en-US | US | stereotype | 8 | 3 | 2 | 1 | 2 | exact binomial | 1.000 |" "$TMPD/stdout" \
  && ok "McNemar row printed" || fail "no McNemar row on stdout"
for f in report.md comparison.csv plots/crows_pairs_en__pct_stereotype.svg plots/crows_pairs_fr__pct_stereotype.svg \
         plots/bbq__s_dis.svg plots/bbq__s_amb.svg; do
  [ -s "$TMPD/r/$f" ] && ok "wrote $f" || fail "missing $f"
done
if command -v python3 >/dev/null; then
  python3 - "$TMPD/r/plots" <<'PY' && ok "every SVG parses as XML with its markers" || fail "SVG check"
import glob, sys, xml.etree.ElementTree as E
files = sorted(glob.glob(sys.argv[1] + "/*.svg"))
assert len(files) == 4, files
want = {"crows_pairs_en__pct_stereotype.svg": 6, "crows_pairs_fr__pct_stereotype.svg": 4,
        "bbq__s_dis.svg": 4, "bbq__s_amb.svg": 4}
for f in files:
    root = E.parse(f).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox"), f
    dots = [e for e in root.iter() if e.get("class") == "dot"]
    assert len(dots) == want[f.rsplit("/", 1)[1]], (f, len(dots))
PY
fi

# errors: one line each, naming what is wrong
mkdir -p "$TMPD/empty" "$TMPD/corrupt"
cp "$GOLD/run-a/summary.json" "$TMPD/corrupt/"
printf 'not zstd data' > "$TMPD/corrupt/items.jsonl.zst"
expect_error "missing run folder" "no-such-run: no such run folder" "$QUIPU_BIN" report "$TMPD/no-such-run"
expect_error "no summary.json" "empty/summary.json: missing" "$QUIPU_BIN" report "$TMPD/empty"
expect_error "corrupted items" "corrupt/items.jsonl.zst:1: not zstd data" "$QUIPU_BIN" report "$GOLD/run-a" "$TMPD/corrupt"
expect_error "unknown metric" "unknown metric 'pct_stereo'" "$QUIPU_BIN" report --metric pct_stereo "$GOLD/run-a"
expect_error "no run folder" "no run folders given" "$QUIPU_BIN" report --out "$TMPD/x"
finish
