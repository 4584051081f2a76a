# test_faults.sh — faults in the middle of a run (issue "Hardening", item 3):
#  - under mpirun, a rank that fails with an error stops every rank at once (MPI_Abort) with its
#    one-line message naming the rank, the other rank having work left; --resume then gives the
#    uninterrupted run's bytes;
#  - a rank killed with SIGKILL: mpirun ends the others within seconds and names the dead rank;
#  - SIGTERM / SIGUSR1 at seeded random moments, each stop resumed until the run completes,
#    always end in the uninterrupted run's bytes (QUIPU_TEST_SEED picks another schedule);
#  - a model file truncated after it was mapped (QUIPU_FAULT_TRUNCATE, a test hook) gives a
#    one-line error naming it instead of SIGBUS;
#  - an item whose log-prob is NaN (QUIPU_FAULT_NAN, a test hook) is named with its benchmark, left
#    out of the metrics and listed in summary.json, written as null in the journal and
#    items.jsonl.zst, kept out on --resume and by quipu report.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
model=$(tiny_model tiny-llama)
cat > "$TMPD/run.yaml" <<YAML
name: faults
output: $TMPD/out
seed: 11
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $model
    name: tiny
benchmarks:
  - name: crows_pairs_fr
    limit: 60
    sample: spread
  - name: mbbq_es
    limit: 24
    sample: spread
metrics:
  include: all
  bootstrap: 100
scoring:
  batch_tokens: 64
progress_interval: 0
YAML
journal_lines() { cat "$1"/journal/*/*.jsonl 2>/dev/null | wc -l; }

"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/a" > /dev/null 2> "$TMPD/a.err" || fail "uninterrupted run: $(tail -2 "$TMPD/a.err")"
total=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(sum(b['items'] for b in s['benchmarks']))" "$TMPD/a/summary.json")

mpi=0
if command -v mpirun > /dev/null && "$QUIPU_TEST_BIN_DIR/test_comm" 2>/dev/null | grep -q "MPI on"; then mpi=1; fi
if [ $mpi = 1 ]; then
  # rank 1 fails after its first chunk; rank 0 still has most of its share to do (small batches)
  t0=$(date +%s.%N)
  rc=0
  QUIPU_FAULT=1:1 mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/f" --set scoring.batch_tokens=16 \
    > /dev/null 2> "$TMPD/f.err" || rc=$?
  t1=$(date +%s.%N)
  n=$(journal_lines "$TMPD/f")
  if [ "$rc" -ne 0 ] && grep -q "^quipu\[1\] run: injected fault after" "$TMPD/f.err" && [ ! -f "$TMPD/f/summary.json" ]; then
    ok "rank 1 failed: exit $rc, its one line names it, no results written"
  else
    fail "rank 1 fault: exit $rc, stderr: $(head -3 "$TMPD/f.err")"
  fi
  if [ "$n" -ge 1 ] && [ "$n" -lt "$total" ]; then ok "the other rank stopped early: $n of $total items journaled ($(echo "$t1 - $t0" | bc) s)"
  else fail "fault run journaled $n of $total items"; fi
  mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/f" --resume > /dev/null 2> "$TMPD/f2.err" \
    || fail "resume after the fault: $(tail -2 "$TMPD/f2.err")"
  same "$TMPD/a" "$TMPD/f" "failed rank, then --resume"

  # rank 1 killed with SIGKILL while rank 0 scores: everything ends within seconds, rank 1 named
  mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/k" --set scoring.batch_tokens=16 \
    > /dev/null 2> "$TMPD/k.err" &
  mpid=$!
  victim=""
  for i in $(seq 1 600); do
    for d in /proc/[0-9]*; do
      tr '\0' '\n' < "$d/cmdline" 2>/dev/null | grep -q -x -- "output=$TMPD/k" || continue
      tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -q -x -E "(OMPI_COMM_WORLD_RANK|PMIX_RANK|PMI_RANK)=1" && { victim=${d#/proc/}; break; }
    done
    [ -n "$victim" ] && [ "$(cat "$TMPD"/k/journal/*/rank0001-*.jsonl 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.02
  done
  if [ -n "$victim" ]; then
    kill -9 "$victim"
    t0=$(date +%s)
    rc=0
    for i in $(seq 1 300); do kill -0 $mpid 2>/dev/null || break; sleep 0.1; done
    waited=$(( $(date +%s) - t0 ))
    if kill -0 $mpid 2>/dev/null; then
      fail "30 s after rank 1 was killed mpirun still runs"
      kill -9 $mpid 2>/dev/null
    else
      wait $mpid || rc=$?
      [ "$rc" -ne 0 ] && ok "rank 1 killed: the job ended ${waited} s later, exit $rc" || fail "rank 1 killed: exit 0"
      grep -q -i -E "rank 1|rank \[?1\]?" "$TMPD/k.err" && ok "the launcher names the dead rank" \
        || fail "dead rank not named: $(head -5 "$TMPD/k.err")"
    fi
    mpirun -n 2 --oversubscribe "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/k" --resume > /dev/null 2> "$TMPD/k2.err" \
      || fail "resume after the kill: $(tail -2 "$TMPD/k2.err")"
    same "$TMPD/a" "$TMPD/k" "killed rank, then --resume"
  else
    wait $mpid 2>/dev/null
    fail "could not find rank 1's process"
  fi
else
  echo "note: no MPI in this build or no mpirun: the rank-failure checks are not run"
fi

# a weights file halved once mapped (another job rewriting it): an error naming it, not SIGBUS
tmodel=$(tiny_model tiny-mistral)
expect_error "model truncated while mapped" "^quipu score: .*tiny-mistral: the file shrank while it was being read" \
  env QUIPU_FAULT_TRUNCATE=1 "$QUIPU_BIN" score --model "$tmodel" <<< '{"context": "", "continuation": "Hola"}'

# a NaN log-prob on one item: named, excluded from the metrics and counted, never averaged in
victim_id=$(zstd -dc "$TMPD/a/items.jsonl.zst" | python3 -c "import json,sys; print(next(json.loads(l)['id'] for l in sys.stdin if 'crows' in l))")
rc=0
QUIPU_FAULT_NAN="$victim_id" "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/n" > /dev/null 2> "$TMPD/n.err" || rc=$?
if [ $rc -eq 0 ] && grep -q "warn: crows_pairs_fr: item $victim_id: choice 0 has a non-finite log-probability (nan): left out of the metrics" "$TMPD/n.err"; then
  ok "NaN item named with its benchmark: $(grep -m1 'non-finite' "$TMPD/n.err")"
else
  fail "NaN item: exit $rc, $(tail -2 "$TMPD/n.err")"
fi
python3 - "$TMPD/a" "$TMPD/n" "$victim_id" <<'PY' && ok "NaN item: listed in summary.json, null in items.jsonl.zst, n one less, other rows unchanged" || fail "NaN item bookkeeping"
import json, subprocess, sys
a, n, vid = sys.argv[1:]
sa, sn = json.load(open(a + "/summary.json")), json.load(open(n + "/summary.json"))
assert "nonfinite" not in sa and sn["nonfinite"] == [{"model": "tiny", "benchmark": "crows_pairs_fr", "id": vid, "choice": 0}], sn.get("nonfinite")
rows = lambda s, b: {(r["language"], r["culture"], r["category"], r["metric"]): r for r in s["metrics"] if r["benchmark"] == b}
ra, rn = rows(sa, "crows_pairs_fr"), rows(sn, "crows_pairs_fr")
alls = [k for k in ra if k[2] == "all" and k[3] == "pct_stereotype"]
assert alls and all(rn[k]["n"] == ra[k]["n"] - 1 for k in alls), [(ra[k]["n"], rn[k]["n"]) for k in alls]
assert rows(sa, "mbbq_es") == rows(sn, "mbbq_es")
items = [json.loads(l) for l in subprocess.run(["zstd", "-dc", n + "/items.jsonl.zst"], capture_output=True, check=True).stdout.decode().splitlines()]
bad = [o for o in items if o["id"] == vid]
assert len(bad) == 1 and bad[0]["lp"][0] is None, bad
PY
# resumed from its journal (the null read back), the same bytes; quipu report reads it too
cp "$TMPD/n/summary.json" "$TMPD/n.summary.json"
rm -f "$TMPD/n/summary.json" "$TMPD/n/summary.csv" "$TMPD/n/summary.md" "$TMPD/n/items.jsonl.zst"
"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/n" --resume > /dev/null 2> "$TMPD/n2.err" || fail "resume over a null: $(tail -1 "$TMPD/n2.err")"
cmp -s "$TMPD/n.summary.json" "$TMPD/n/summary.json" && ok "resume keeps the NaN item out (the journal's null read back, no hook): same summary.json" \
  || fail "resume over a NaN item differs"
"$QUIPU_BIN" report "$TMPD/n" > "$TMPD/rep.out" 2> "$TMPD/rep.err" && ok "quipu report reads a run with a NaN item" || fail "report: $(tail -1 "$TMPD/rep.err")"

# SIGTERM / SIGUSR1 at seeded random moments; each stop (exit 75) is resumed, possibly stopped
# again, until the run completes
seed=${QUIPU_TEST_SEED:-20261206}
echo "signal schedule seed: $seed"
schedule=$(python3 -c "
import random, sys
r = random.Random(int(sys.argv[1]))
for run in range(4):
    print(' '.join(f'{r.choice([\"TERM\", \"USR1\"])}:{r.uniform(0.05, 0.6):.3f}' for _ in range(r.randint(1, 3))))
" "$seed")
run_no=0
while read -r stops; do
  run_no=$((run_no + 1))
  out="$TMPD/s$run_no"
  stopped=0 bad=""
  resume=""
  for stop in $stops; do
    sig=${stop%%:*} delay=${stop#*:}
    "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$out" --set scoring.batch_tokens=16 $resume > /dev/null 2> "$out.err" &
    pid=$!
    sleep "$delay"
    kill -s "$sig" $pid 2>/dev/null
    rc=0
    wait $pid || rc=$?
    case $rc in
      75) stopped=$((stopped + 1)) ;;
      0) ;;  # finished before the signal
      *) bad="$bad SIG$sig after ${delay}s: exit $rc ($(tail -1 "$out.err"))" ;;
    esac
    resume=--resume
    [ -f "$out/summary.json" ] && break
  done
  if [ ! -f "$out/summary.json" ]; then
    "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$out" --resume > /dev/null 2> "$out.err" || bad="$bad final resume: $(tail -1 "$out.err")"
  fi
  if [ -n "$bad" ]; then fail "schedule $run_no ($stops):$bad"; continue; fi
  same "$TMPD/a" "$out" "schedule $run_no ($stops; $stopped stop(s) with exit 75)"
done <<< "$schedule"
finish
