# test_run.sh — quipu run end to end on a tiny checkpoint (fast, always available): results
# files present and consistent; 1, 2 and 4 MPI ranks give byte-identical summary.json,
# summary.csv, summary.md and items.jsonl.zst; a run killed with SIGKILL mid-way and rerun with
# --resume (also with another rank count), and a 2-rank run with one rank killed then resumed
# with 3 ranks, give the same bytes; SIGUSR1 stops after the current
# batch with exit status 75; bad configs are reported with file:line:col before any model loads.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
model=$(tiny_model tiny-mistral)
cat > "$TMPD/run.yaml" <<YAML
name: t
output: $TMPD/out
seed: 7
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $model
    name: tiny
benchmarks:
  - name: crows_pairs_en
    limit: 40
    sample: spread
  - name: sesgo
    limit: 24
    sample: spread
  - name: stereoset_intra
    limit: 12
metrics:
  include: all
  bootstrap: 200
scoring:
  batch_tokens: 96
progress_interval: 0
YAML
run1() { # out-dir [extra args...]
  local out="$1"; shift
  "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$out" "$@" > "$TMPD/stdout" 2> "$TMPD/stderr"
}

if run1 "$TMPD/a"; then ok "run, 1 rank"; else fail "run, 1 rank: $(tail -3 "$TMPD/stderr")"; fi
for f in $files manifest.json; do [ -s "$TMPD/a/$f" ] && ok "wrote $f" || fail "missing $f"; done
# the console shows the per-culture table (category "all" only), the files have every category
if grep -q "^| crows_pairs_en | en-US | US | pct_stereotype | " "$TMPD/stdout" && grep -q "^| sesgo | es-419 | LatAm | acc | " "$TMPD/stdout" \
   && ! grep -q "race-color" "$TMPD/stdout" && grep -q "| en-US | US | race-color | pct_stereotype |" "$TMPD/a/summary.md"; then
  ok "per-culture table printed, per-category rows in summary.md"
else
  fail "console table: $(head -12 "$TMPD/stdout")"
fi
python3 - "$TMPD/a" <<'PY' && ok "summary.json and items.jsonl.zst consistent" || fail "summary/items content"
import json, subprocess, sys
d = sys.argv[1]
s = json.load(open(f"{d}/summary.json"))
assert s["format"] == "quipu-summary/1" and len(s["config_hash"]) == 64
b = {x["label"]: x["items"] for x in s["benchmarks"]}
assert b == {"crows_pairs_en": 40, "sesgo": 24, "stereoset_intra": 12}, b
lines = subprocess.run(["zstd", "-dc", f"{d}/items.jsonl.zst"], capture_output=True, check=True, text=True).stdout.splitlines()
items = [json.loads(l) for l in lines]
assert len(items) == 76, len(items)
ids = [(i["benchmark"], i["id"]) for i in items]
assert len(set(ids)) == 76
# pct_stereotype recomputed from the items equals the summary's
cp = [i for i in items if i["benchmark"] == "crows_pairs_en"]
pct = 100.0 * sum(1 for i in cp if i["lp"][0] > i["lp"][1]) / len(cp)
row = [m for m in s["metrics"] if m["benchmark"] == "crows_pairs_en" and m["category"] == "all" and m["metric"] == "pct_stereotype"][0]
assert abs(row["value"] - pct) < 1e-9 and row["n"] == 40 and row["ci_low"] <= pct <= row["ci_high"], (row, pct)
assert all(len(i["lp"]) == 3 for i in items if i["benchmark"] == "sesgo")
PY
python3 - "$TMPD/a/manifest.json" <<'PY' && ok "manifest: 1 rank, dataset checksums, timings" || fail "manifest content"
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == "quipu-manifest/2" and m["ranks"] == 1, m["ranks"]
ds = {d["benchmark"]: d["files"] for d in m["datasets"]}
assert sorted(ds) == ["crows_pairs_en", "sesgo", "stereoset_intra"], ds
for files in ds.values():
    assert files, ds
    for f in files:
        assert f["sha256"] == hashlib.sha256(open(f["path"], "rb").read()).hexdigest(), f
assert any(f["path"].endswith("crows_pairs_anonymized.csv") for f in ds["crows_pairs_en"])
mf = {f["name"]: f for f in m["models"][0]["files"]}  # a checkpoint folder: each file
assert "config.json" in mf and all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in mf.values()), mf
t = m["timings"]
for k in ("load_s", "score_s", "gather_s", "metrics_s", "write_s", "total_s"):
    assert t[k] >= 0, k
assert t["per_rank"][0]["items"] == 76 == m["items_scored"] and m["tokens_processed"] > 0
assert m["started"] <= m["finished"]
PY

mpi=0
if command -v mpirun >/dev/null && "$QUIPU_TEST_BIN_DIR/test_comm" 2>/dev/null | grep -q "MPI on"; then mpi=1; fi
if [ $mpi = 1 ]; then
  for n in 2 4; do
    if mpirun -n $n --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/r$n" --set progress_interval=0.000001 > "$TMPD/stdout" 2> "$TMPD/stderr"; then
      same "$TMPD/a" "$TMPD/r$n" "mpirun -n $n"
      # progress counts every rank's items; the manifest has each rank's share and timings
      grep -q "model tiny: 76 items scored in" "$TMPD/stderr" && ok "mpirun -n $n: progress counted all 76 items" || fail "mpirun -n $n: progress: $(grep -E 'progress|scored' "$TMPD/stderr" | tail -3)"
      counts=$(grep -E "progress: model tiny: [0-9]+ / 76 items" "$TMPD/stderr" | awk '{print $6}')
      if [ -n "$counts" ] && echo "$counts" | sort -n -c 2>/dev/null; then ok "mpirun -n $n: $(echo "$counts" | wc -l) progress lines, counts rising"; else fail "mpirun -n $n: progress lines missing or out of order: $counts"; fi
      python3 - "$TMPD/r$n/manifest.json" $n <<'PY' && ok "mpirun -n $n: manifest per-rank items and timings" || fail "mpirun -n $n: manifest per_rank"
import json, sys
m, n = json.load(open(sys.argv[1])), int(sys.argv[2])
pr = m["timings"]["per_rank"]
assert m["ranks"] == n and [r["rank"] for r in pr] == list(range(n)), pr
assert sum(r["items"] for r in pr) == 76 == m["items_scored"], pr
assert all(r["items"] > 0 and r["tokens"] > 0 and r["score_s"] > 0 for r in pr), pr
assert sum(r["tokens"] for r in pr) == m["tokens_processed"]
sc = m["timings"]["score_s_across_ranks"]
assert sc["min"] <= sc["avg"] <= sc["max"] and abs(sc["max"] - max(r["score_s"] for r in pr)) < 1e-9, sc
PY
    else
      fail "mpirun -n $n: $(tail -3 "$TMPD/stderr")"
    fi
  done
else
  echo "note: no MPI in this build or no mpirun: rank-count checks not run"
fi

# kill -9 mid-run, then --resume
"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/k" --set scoring.batch_tokens=16 > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 400); do
  n=$(cat "$TMPD"/k/journal/*/*.jsonl 2>/dev/null | wc -l)
  [ "$n" -ge 10 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
n=$(cat "$TMPD"/k/journal/*/*.jsonl 2>/dev/null | wc -l)
if [ "$n" -ge 10 ] && [ ! -f "$TMPD/k/summary.json" ]; then ok "killed mid-run with $n items journaled"; else fail "kill mid-run: journal has $n lines"; fi
if [ $mpi = 1 ]; then
  mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/k" --resume > "$TMPD/stdout" 2> "$TMPD/stderr" || fail "resume with 2 ranks: $(tail -2 "$TMPD/stderr")"
else
  run1 "$TMPD/k" --resume || fail "resume: $(tail -2 "$TMPD/stderr")"
fi
grep -q "resume: [1-9][0-9]* finished items" "$TMPD/stderr" && ok "resume read the journal" || fail "resume did not report journal items: $(head -3 "$TMPD/stderr")"
same "$TMPD/a" "$TMPD/k" "killed then resumed"

# 2 ranks, one of them killed with SIGKILL mid-run (mpirun then ends the other), resumed with 3
if [ $mpi = 1 ]; then
  mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/k2" --set scoring.batch_tokens=16 > /dev/null 2>&1 &
  mpid=$!
  victim=""  # rank 1's process: its command line names this output folder, its environment its rank
  for i in $(seq 1 600); do
    if [ -z "$victim" ]; then
      for d in /proc/[0-9]*; do
        tr '\0' '\n' < "$d/cmdline" 2>/dev/null | grep -q -x -- "output=$TMPD/k2" || continue
        tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -q -x -E "(OMPI_COMM_WORLD_RANK|PMIX_RANK|PMI_RANK)=1" && { victim=${d#/proc/}; break; }
      done
    fi
    n=$(cat "$TMPD"/k2/journal/*/rank0001-*.jsonl 2>/dev/null | wc -l)
    [ -n "$victim" ] && [ "$n" -ge 5 ] && break
    sleep 0.02
  done
  if [ -n "$victim" ]; then
    kill -9 "$victim"
    wait $mpid 2>/dev/null
    n=$(cat "$TMPD"/k2/journal/*/*.jsonl 2>/dev/null | wc -l)
    [ "$n" -ge 5 ] && [ ! -f "$TMPD/k2/summary.json" ] && ok "rank 1 of 2 killed mid-run, $n items journaled" || fail "kill rank 1: journal has $n lines"
    mpirun -n 3 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/k2" --resume > "$TMPD/stdout" 2> "$TMPD/stderr" || fail "resume with 3 ranks: $(tail -2 "$TMPD/stderr")"
    grep -q -E "resume: [1-9][0-9]* finished items" "$TMPD/stderr" && ok "3-rank resume read the journal" || fail "3-rank resume did not use the journal"
    same "$TMPD/a" "$TMPD/k2" "2 ranks, one killed, resumed with 3"
  else
    wait $mpid 2>/dev/null
    fail "could not find rank 1's process to kill"
  fi
fi

# SIGUSR1: finish the batch, journal it, exit 75; then resume
"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/u" --set scoring.batch_tokens=16 > /dev/null 2> "$TMPD/u.err" &
pid=$!
for i in $(seq 1 400); do
  n=$(cat "$TMPD"/u/journal/*/*.jsonl 2>/dev/null | wc -l)
  [ "$n" -ge 5 ] && break
  sleep 0.05
done
kill -USR1 $pid 2>/dev/null
rc=0; wait $pid || rc=$?
[ "$rc" = 75 ] && ok "SIGUSR1: exit 75" || fail "SIGUSR1: exit $rc ($(tail -2 "$TMPD/u.err"))"
run1 "$TMPD/u" --resume && same "$TMPD/a" "$TMPD/u" "stopped by SIGUSR1 then resumed" || fail "resume after SIGUSR1: $(tail -2 "$TMPD/stderr")"

# config errors: all reported, with file:line:col, exit 2, before any model loads
cat > "$TMPD/bad.yaml" <<YAML
name: bad
models:
  - path: /nonexistent/model.gguf
benchmarks:
  - name: crows_pairz_en
scoring:
  batch_tokenz: 10
YAML
rc=0; "$QUIPU_BIN" run "$TMPD/bad.yaml" > /dev/null 2> "$TMPD/bad.err" || rc=$?
[ "$rc" = 2 ] && ok "bad config: exit 2" || fail "bad config: exit $rc"
for pat in "bad.yaml:3:[0-9]+: .*nonexistent/model.gguf" "bad.yaml:5:[0-9]+: .*crows_pairz_en.*crows_pairs_en" "bad.yaml:7:[0-9]+: .*batch_tokenz.*batch_tokens"; do
  grep -q -E "$pat" "$TMPD/bad.err" && ok "reported /$pat/" || fail "not reported /$pat/: $(cat "$TMPD/bad.err")"
done
# an unwritable output folder
rc=0; run1 "/proc/quipu-no/out" || rc=$?
[ "$rc" = 1 ] && grep -q "/proc/quipu-no/out" "$TMPD/stderr" && ok "unwritable output: $(tail -1 "$TMPD/stderr")" || fail "unwritable output: rc $rc $(tail -2 "$TMPD/stderr")"
# bad input through quipu run: one line naming the file and the problem, non-zero exit, nothing written
bad_run() { # what expected-rc regex [--set ...]
  local what=$1 want=$2 re=$3; shift 3
  local rc=0
  "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/bad-$want" "$@" > /dev/null 2> "$TMPD/bad.err" || rc=$?
  if [ "$rc" = "$want" ] && tail -1 "$TMPD/bad.err" | grep -q -E "$re" && [ ! -f "$TMPD/bad-$want/summary.json" ]; then
    ok "$what: exit $rc: $(tail -1 "$TMPD/bad.err")"
  else
    fail "$what: exit $rc (want $want), message: $(tail -2 "$TMPD/bad.err")"
  fi
}
printf '' > "$TMPD/empty.jsonl"
printf '{"id": "1", "more": "A b.", "less": "C b.", "language": "en", "culture": "US"}\n{"id": "2", "more": "A c."}\n' > "$TMPD/short.jsonl"
bad_run "empty benchmark after its filters" 1 "run.yaml:[0-9]+:[0-9]+: benchmark 'crows_pairs_en' has no items after its filters" \
  --set 'benchmarks.0.categories=[no-such-category]'
bad_run "empty JSON-lines file" 1 "empty.jsonl: no data rows" --set "benchmarks=[{name: mine, format: pairs, path: $TMPD/empty.jsonl}]"
bad_run "malformed row" 1 "short.jsonl:2: missing field" --set "benchmarks=[{name: mine, format: pairs, path: $TMPD/short.jsonl}]"
bad_run "missing benchmark file" 2 "benchmarks.0.path: .*nothere.jsonl' does not exist" --set "benchmarks=[{name: mine, format: pairs, path: $TMPD/nothere.jsonl}]"
bad_run "unknown benchmark" 2 "unknown benchmark 'sesgoo' \(did you mean 'sesgo'\?\)" --set "benchmarks=[sesgoo]"
bad_run "wrong type" 2 "scoring.batch_tokens: expected an integer, got 'many'" --set "scoring.batch_tokens=many"
bad_run "missing model" 2 "models.0.path: .*no-model.gguf' does not exist" --set "models.0.path=$TMPD/no-model.gguf"
# a JSON-lines benchmark without categories: only the all-categories rows
printf '{"id": 1, "more": "The old man forgot.", "less": "The young man forgot.", "language": "en", "culture": "US"}\n{"id": 2, "more": "She cried.", "less": "He cried.", "language": "en", "culture": "US"}\n' > "$TMPD/nocat.jsonl"
if "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/nocat" --set "benchmarks=[{name: mine, format: pairs, path: $TMPD/nocat.jsonl}]" > /dev/null 2> "$TMPD/nocat.err" \
   && python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))['metrics']
assert m and {r['category'] for r in m} == {'all'} and all(r['n'] == 2 for r in m if r['metric'] == 'pct_stereotype'), m
" "$TMPD/nocat/summary.json"; then ok "benchmark without categories: all-categories rows only"; else fail "benchmark without categories: $(tail -2 "$TMPD/nocat.err")"; fi
finish
