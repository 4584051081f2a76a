# test_slurm.sh — slurm/run.sh, the body of the sbatch scripts, with stand-ins for srun and
# scontrol: a first start is stopped by SIGUSR1 (as `#SBATCH --signal=USR1@120` does) and
# requeues itself; the requeued start resumes and the results equal an uninterrupted run's bytes;
# the restart limit and a config error are not requeued; the sbatch scripts parse with bash -n.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
run_sh="$QUIPU_SOURCE_DIR/slurm/run.sh"
for f in "$run_sh" "$QUIPU_SOURCE_DIR"/slurm/*.sbatch; do
  bash -n "$f" && ok "bash -n $(basename "$f")" || fail "$(basename "$f") does not parse"
done
grep -q "^#SBATCH --signal=USR1@" "$QUIPU_SOURCE_DIR/slurm/jean-zay-cpu.sbatch" && grep -q "^#SBATCH --requeue" "$QUIPU_SOURCE_DIR/slurm/jean-zay-cpu.sbatch" \
  && ok "jean-zay-cpu.sbatch asks for the signal and requeue" || fail "jean-zay-cpu.sbatch lacks --signal or --requeue"

model=$(tiny_model tiny-mistral)
cat > "$TMPD/run.yaml" <<YAML
name: slurm
output: $TMPD/out
seed: 3
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $model
    name: tiny
benchmarks:
  - name: crows_pairs_fr
    limit: 120
    sample: spread
metrics:
  include: all
  bootstrap: 100
scoring:
  batch_tokens: 16
progress_interval: 0
YAML
"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/ref" > /dev/null 2> "$TMPD/ref.err" || fail "reference run: $(tail -2 "$TMPD/ref.err")"

# stand-ins: srun runs the step once and, when SRUN_SIGNAL_AFTER is set, sends SIGUSR1 once that
# many items are journaled (what Slurm's --signal does before the limit); scontrol logs its calls
mkdir -p "$TMPD/bin"
cat > "$TMPD/bin/srun" <<'SH'
#!/bin/bash
while [ "${1#-}" != "$1" ]; do echo "$1" >> "$SRUN_LOG"; shift; done  # srun's own options
"$@" &
pid=$!
if [ -n "${SRUN_SIGNAL_AFTER:-}" ]; then
  for i in $(seq 1 600); do
    n=$(cat "$SRUN_JOURNAL"/journal/*/*.jsonl 2>/dev/null | wc -l)
    [ "$n" -ge "$SRUN_SIGNAL_AFTER" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  kill -USR1 $pid 2>/dev/null
fi
wait $pid
SH
printf '#!/bin/sh\necho "$*" >> "%s/scontrol.log"\n' "$TMPD" > "$TMPD/bin/scontrol"
chmod +x "$TMPD/bin/srun" "$TMPD/bin/scontrol"
export PATH="$TMPD/bin:$PATH" QUIPU="$QUIPU_BIN" SLURM_JOB_ID=4242 SRUN_JOURNAL="$TMPD/out" SRUN_LOG="$TMPD/srun.log" SLURM_CPUS_PER_TASK=2

# first start: stopped by the signal → exit 75 and a requeue
rc=0; SLURM_RESTART_COUNT=0 SRUN_SIGNAL_AFTER=20 bash "$run_sh" "$TMPD/run.yaml" > "$TMPD/s1.out" 2>&1 || rc=$?
[ "$rc" = 75 ] && ok "signalled start: exit 75" || fail "signalled start: exit $rc ($(tail -3 "$TMPD/s1.out"))"
[ "$(cat "$TMPD/scontrol.log" 2>/dev/null)" = "requeue 4242" ] && ok "signalled start: scontrol requeue 4242" || fail "scontrol calls: $(cat "$TMPD/scontrol.log" 2>/dev/null)"
[ ! -f "$TMPD/out/summary.json" ] && ok "no results after the stopped start" || fail "results written by a stopped start"
grep -q -x -- "--cpus-per-task=2" "$TMPD/srun.log" && grep -q -x -- "--wait=300" "$TMPD/srun.log" && ok "srun gets --cpus-per-task and --wait" || fail "srun options: $(cat "$TMPD/srun.log")"
# the requeued start resumes and finishes; nothing more is requeued
rc=0; SLURM_RESTART_COUNT=1 bash "$run_sh" "$TMPD/run.yaml" > "$TMPD/s2.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && ok "requeued start: exit 0" || fail "requeued start: exit $rc ($(tail -3 "$TMPD/s2.out"))"
grep -q -E "resume: [1-9][0-9]* finished items" "$TMPD/s2.out" && ok "requeued start resumed from the journal" || fail "no resume in: $(head -5 "$TMPD/s2.out")"
[ "$(wc -l < "$TMPD/scontrol.log")" = 1 ] && ok "finished start: no requeue" || fail "scontrol called again: $(cat "$TMPD/scontrol.log")"
bad=""
for f in summary.json summary.csv summary.md items.jsonl.zst; do cmp -s "$TMPD/ref/$f" "$TMPD/out/$f" || bad="$bad $f"; done
[ -z "$bad" ] && ok "results equal the uninterrupted run's bytes" || fail "results differ in$bad"

# at the restart limit: exit 75 but no requeue, and the log says so
rm -f "$TMPD/scontrol.log"
rc=0; SLURM_RESTART_COUNT=3 QUIPU_MAX_RESTARTS=3 SRUN_SIGNAL_AFTER=5 SRUN_JOURNAL="$TMPD/lim" bash "$run_sh" "$TMPD/run.yaml" --set "output=$TMPD/lim" > "$TMPD/s3.out" 2>&1 || rc=$?
[ "$rc" = 75 ] && [ ! -f "$TMPD/scontrol.log" ] && grep -q "not requeued" "$TMPD/s3.out" && ok "restart limit: not requeued" \
  || fail "restart limit: rc $rc, scontrol $(cat "$TMPD/scontrol.log" 2>/dev/null), $(tail -2 "$TMPD/s3.out")"
# a config error: exit 2, not requeued
printf 'name: x\nmodels: []\nbenchmarks: [crows_pairs_en]\n' > "$TMPD/bad.yaml"
rc=0; SLURM_RESTART_COUNT=0 bash "$run_sh" "$TMPD/bad.yaml" > "$TMPD/s4.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && [ ! -f "$TMPD/scontrol.log" ] && ok "config error: exit 2, not requeued" || fail "config error: rc $rc, $(tail -2 "$TMPD/s4.out")"
finish
