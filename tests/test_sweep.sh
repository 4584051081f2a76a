# test_sweep.sh — quipu sweep with stand-ins for sbatch, srun, squeue, sacct, scontrol and module on
# PATH. The example's dry run prints the array table, the throttled --array and the afterany
# dependency and submits nothing; sweep-file errors come as FILE:LINE:COL. A small sweep of the four
# tiny checkpoints (four families) is submitted: the stand-in sbatch runs every array task at once
# through slurm/jean-zay-cpu.sbatch and slurm/run.sh (task i reads line i of runs.list), two tasks
# fail; status shows done and failed with the failing line of the log (from sacct, and from the run
# folders alone without the Slurm tools), running and pending from squeue, and a submission leaves
# queued tasks alone; the resubmission submits exactly the two failed tasks; then every run is
# done, nothing is submitted again, and the report job wrote sweep.md, sweep.csv (one row per
# model × benchmark × language × culture), the heatmaps, forest plots and the paired comparisons.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
cd "$QUIPU_SOURCE_DIR" || exit 1 # the templates find slurm/run.sh in the submit folder

bin="$TMPD/bin" state="$TMPD/slurm"
mkdir -p "$bin" "$state"
export SBATCH_LOG="$state/sbatch.log" SLURM_STATE="$state"
# sbatch: logs its arguments, prints a job id, and runs the job at once as if the queue were empty:
# every task of --array (SLURM_ARRAY_* set, output to --output with %A/%a filled in) or the --wrap
# command; each task's end state goes where the sacct stand-in finds it
cat > "$bin/sbatch" <<'SH'
#!/bin/bash
echo "$*" >> "$SBATCH_LOG"
id=$(( $(cat "$SLURM_STATE/next" 2>/dev/null || echo 4100) + 1 ))
echo "$id" > "$SLURM_STATE/next"
array="" out="" wrap="" args=()
for a in "$@"; do
  case $a in
    --array=*) array=${a#--array=} ;;
    --output=*) out=${a#--output=} ;;
    --wrap=*) wrap=${a#--wrap=} ;;
    -*) ;;
    *) args+=("$a") ;;
  esac
done
echo "$id"
if [ -n "$array" ]; then
  spec=${array%%\%*}
  for part in ${spec//,/ }; do
    for ((t = ${part%-*}; t <= ${part#*-}; t++)); do
      log=${out//%A/$id}; log=${log//%a/$t}
      ( export SLURM_JOB_ID=$((id * 100 + t)) SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$t SLURM_SUBMIT_DIR=$PWD SLURM_CPUS_PER_TASK=2
        exec bash "${args[@]}" ) >> "$log" 2>&1 < /dev/null
      rc=$?
      if [ $rc -eq 0 ]; then echo "${id}_$t|COMPLETED|0:0"; else echo "${id}_$t|FAILED|$rc:0"; fi >> "$SLURM_STATE/sacct"
    done
  done
elif [ -n "$wrap" ]; then
  sh -c "$wrap" >> "${out//%j/$id}" 2>&1 < /dev/null
  echo "$id|COMPLETED|$?:0" >> "$SLURM_STATE/sacct"
fi
SH
# srun: runs the step once; the tasks named in FAIL_TASKS fail the way quipu does, one line
cat > "$bin/srun" <<'SH'
#!/bin/bash
while [ "${1#-}" != "$1" ]; do shift; done
for t in ${FAIL_TASKS:-}; do
  if [ "$t" = "${SLURM_ARRAY_TASK_ID:-}" ]; then echo "quipu run: simulated failure of task $t (node lost)" >&2; exit 1; fi
done
exec "$@"
SH
printf '#!/bin/bash\ncat "$SLURM_STATE/squeue" 2>/dev/null\n' > "$bin/squeue"
printf '#!/bin/bash\ncat "$SLURM_STATE/sacct" 2>/dev/null\n' > "$bin/sacct"
printf '#!/bin/bash\necho "$*" >> "$SLURM_STATE/scontrol.log"\n' > "$bin/scontrol"
printf '#!/bin/bash\nexit 0\n' > "$bin/module"
chmod +x "$bin"/*
export PATH="$bin:$PATH" QUIPU="$QUIPU_BIN"
sweep() { "$QUIPU_BIN" sweep "$@"; }

# 1. the example's dry run
: > "$SBATCH_LOG"
if sweep configs/sweeps/overnight-h100.yaml --dry-run > "$TMPD/dry" 2> "$TMPD/dry.err"; then ok "example dry run"; else fail "example dry run: $(cat "$TMPD/dry.err")"; fi
n_models=$(grep -c -E '^[0-9]+ +[a-z0-9.-]+ +(cpu|cuda|hip) ' "$TMPD/dry")
grep -q -E '^  array=\$\(sbatch --parsable --array=0-10%4 --job-name=overnight-h100 --output=results/sweeps/overnight-h100/logs/%A_%a\.out --account=XXX@h100 slurm/jean-zay-h100\.sbatch results/sweeps/overnight-h100/runs\.list\)$' "$TMPD/dry" \
  && ok "dry run: --array=0-10%4 over the H100 template and runs.list" || fail "dry run array line: $(grep sbatch "$TMPD/dry" | head -1)"
grep -q -E '^  sbatch --parsable --dependency=afterany:\$array --job-name=overnight-h100-report .*--time=00:30:00 .--wrap=.*quipu sweep report configs/sweeps/overnight-h100\.yaml.$' "$TMPD/dry" \
  && ok "dry run: report job afterany the array" || fail "dry run report line: $(grep dependency "$TMPD/dry")"
[ "$n_models" = 11 ] && grep -q -E '^7 +llama3\.1-70b +cuda +auto +4 +4096 +submit$' "$TMPD/dry" && grep -q -E '^10 +smollm2-135m-instruct-q4 +cpu ' "$TMPD/dry" \
  && ok "dry run: array table, 11 models with their overrides" || fail "dry run table: $n_models rows: $(head -14 "$TMPD/dry")"
[ ! -s "$SBATCH_LOG" ] && [ ! -e results/sweeps/overnight-h100 ] && ok "dry run submits and writes nothing" || fail "dry run called sbatch or wrote the sweep folder"

# 2. sweep-file errors: every one, FILE:LINE:COL, before anything is written
cat > "$TMPD/bad.yaml" <<YAML
models:
  - path: $TMPD/none.gguf
    tensor_parallel: 0
benchmarks: [crows_pairs_en]
sweep:
  template: slurm/nope.sbatch
  throttle: -2
  sbatch: [account=x]
  baseline: smolm
  thottle: 3
YAML
rc=0
sweep "$TMPD/bad.yaml" --dry-run > /dev/null 2> "$TMPD/bad.err" || rc=$?
errs="3:22:.*tensor_parallel: expected an integer from 1 to 64
6:13: sweep.template: 'slurm/nope.sbatch' does not exist
7:13: sweep.throttle: expected an integer
8:12: sweep.sbatch.0: 'account=x' is not an sbatch option
9:13: sweep.baseline: no model is named 'smolm'
10:3: unknown key 'thottle' \(did you mean 'throttle'\?\)"
missing=""
while read -r e; do grep -q -E "^$TMPD/bad.yaml:$e" "$TMPD/bad.err" || missing="$missing [$e]"; done <<< "$errs"
[ "$rc" = 2 ] && [ -z "$missing" ] && ok "sweep-file errors, all of them, FILE:LINE:COL (exit 2)" || fail "bad sweep (exit $rc) lacks$missing: $(cat "$TMPD/bad.err")"

# 3. a small sweep of the four tiny checkpoints; tasks 1 and 3 fail
for m in tiny-gpt2 tiny-llama tiny-mistral tiny-qwen2; do tiny_model $m > /dev/null; done
cat > "$TMPD/sweep.yaml" <<YAML
name: tiny-sweep
output: $TMPD/sw
seed: 5
datasets_dir: $QUIPU_SHARED/datasets
models:
  - {path: $TMPD/tiny-gpt2, name: gpt2}
  - {path: $TMPD/tiny-llama, name: llama, max_length: 64}
  - {path: $TMPD/tiny-mistral, name: mistral}
  - {path: $TMPD/tiny-qwen2, name: qwen2, dtype: f32}
benchmarks:
  - {name: crows_pairs_en, limit: 12, sample: spread}
  - {name: sesgo, limit: 9, sample: spread}
metrics: {bootstrap: 50}
scoring: {batch_tokens: 256}
progress_interval: 0
sweep:
  template: slurm/jean-zay-cpu.sbatch
  throttle: 2
  sbatch: [--account=abc@cpu, --time=00:20:00]
  report_sbatch: [--ntasks=1, --time=00:10:00]
  baseline: mistral
YAML
: > "$SBATCH_LOG"
if FAIL_TASKS="1 3" sweep "$TMPD/sweep.yaml" > "$TMPD/sub1" 2> "$TMPD/sub1.err"; then ok "first submission"; else fail "first submission: $(tail -3 "$TMPD/sub1.err")"; fi
array1=$(sed -n 1p "$SBATCH_LOG")
report1=$(sed -n 2p "$SBATCH_LOG")
[ "$(wc -l < "$SBATCH_LOG")" = 2 ] && [[ "$array1" == "--parsable --array=0-3%2 --job-name=tiny-sweep --output=$TMPD/sw/logs/%A_%a.out --account=abc@cpu --time=00:20:00 slurm/jean-zay-cpu.sbatch $TMPD/sw/runs.list" ]] \
  && ok "array 0-3%2 over the CPU template" || fail "array submission: $(cat "$SBATCH_LOG")"
[[ "$report1" == "--parsable --dependency=afterany:4101 --job-name=tiny-sweep-report --output=$TMPD/sw/logs/report-%j.out --ntasks=1 --time=00:10:00 --wrap=$QUIPU_BIN sweep report $TMPD/sweep.yaml" ]] \
  && ok "report job: afterany:4101" || fail "report submission: $report1"
for i in 0 1 2 3; do [ "$(sed -n "$((i + 1))p" "$TMPD/sw/runs.list")" = "$TMPD/sw/runs/$(sed -n "$((i + 1))p" <<< "gpt2
llama
mistral
qwen2").yaml" ] || fail "runs.list line $((i + 1))"; done
[ -s "$TMPD/sw/runs/gpt2/manifest.json" ] && [ -s "$TMPD/sw/runs/mistral/manifest.json" ] && [ ! -e "$TMPD/sw/runs/llama/manifest.json" ] \
  && ok "tasks 0 and 2 ran through the template and run.sh; 1 and 3 failed" || fail "task results: $(ls "$TMPD/sw/runs" "$TMPD/sw/logs"; cat "$TMPD/sw/logs/4101_0.out" | tail -5)"
grep -q "^models:" "$TMPD/sw/runs/qwen2.yaml" && grep -q "dtype: f32" "$TMPD/sw/runs/qwen2.yaml" && grep -q "max_length: 64" "$TMPD/sw/runs/llama.yaml" \
  && ok "per-model run configs carry the overrides" || fail "run configs: $(cat "$TMPD/sw/runs/llama.yaml")"

# 4. status, from sacct and the logs
sweep status "$TMPD/sweep.yaml" > "$TMPD/st1" 2>&1 || fail "status: $(cat "$TMPD/st1")"
grep -q -E '^0 +gpt2 +done ' "$TMPD/st1" && grep -q -E '^2 +mistral +done ' "$TMPD/st1" \
  && grep -q -E '^1 +llama +failed +4101_1 +quipu run: simulated failure of task 1 \(node lost\)$' "$TMPD/st1" \
  && grep -q -E '^3 +qwen2 +failed +4101_3 +quipu run: simulated failure of task 3' "$TMPD/st1" && grep -q "^2 done, 0 running, 0 pending, 2 failed" "$TMPD/st1" \
  && ok "status: done, and failed with the failing line of the log" || fail "status: $(cat "$TMPD/st1")"
# without the Slurm tools: the run folders and logs alone
env PATH="$(dirname "$(command -v bash)"):/usr/bin:/bin" "$QUIPU_BIN" sweep status "$TMPD/sweep.yaml" > "$TMPD/st0" 2>&1
grep -q -E '^1 +llama +failed +4101_1 +quipu run: simulated failure' "$TMPD/st0" && grep -q -E '^0 +gpt2 +done' "$TMPD/st0" \
  && ok "status without squeue/sacct: from the run folders" || fail "status without Slurm tools: $(cat "$TMPD/st0")"
# queued: squeue says task 1 runs and task 3 waits; a submission leaves them alone
printf '4101_1|RUNNING\n4101_3|PENDING\n' > "$state/squeue"
sweep status "$TMPD/sweep.yaml" > "$TMPD/st2" 2>&1
grep -q -E '^1 +llama +running +4101_1' "$TMPD/st2" && grep -q -E '^3 +qwen2 +pending +4101_3' "$TMPD/st2" \
  && ok "status: running and pending from squeue" || fail "status with squeue: $(cat "$TMPD/st2")"
: > "$SBATCH_LOG"
sweep "$TMPD/sweep.yaml" > "$TMPD/sub2" 2>&1
[ ! -s "$SBATCH_LOG" ] && grep -q "nothing to submit" "$TMPD/sub2" && grep -q -E '^1 +llama .*skip \(running as 4101_1\)' "$TMPD/sub2" \
  && ok "queued tasks are not submitted again" || fail "submission while queued: $(cat "$TMPD/sub2") / $(cat "$SBATCH_LOG")"
rm -f "$state/squeue"

# 5. the resubmission: exactly the two failed tasks
sweep "$TMPD/sweep.yaml" --dry-run > "$TMPD/dry2" 2>&1
grep -q -e "--array=1,3%2 " "$TMPD/dry2" && grep -q -E '^1 +llama .*submit again \(failed\)$' "$TMPD/dry2" && grep -q -E '^0 +gpt2 .*skip \(done\)$' "$TMPD/dry2" \
  && ok "dry run of the resubmission: tasks 1,3" || fail "resubmission dry run: $(cat "$TMPD/dry2")"
: > "$SBATCH_LOG"
if sweep "$TMPD/sweep.yaml" > "$TMPD/sub3" 2> "$TMPD/sub3.err"; then ok "resubmission"; else fail "resubmission: $(tail -3 "$TMPD/sub3.err")"; fi
[ "$(wc -l < "$SBATCH_LOG")" = 2 ] && grep -q -e "^--parsable --array=1,3%2 " "$SBATCH_LOG" && grep -q -e "--dependency=afterany:4103 " "$SBATCH_LOG" \
  && ok "resubmitted exactly tasks 1 and 3, report after them" || fail "resubmission calls: $(cat "$SBATCH_LOG")"
sweep status "$TMPD/sweep.yaml" > "$TMPD/st3" 2>&1
grep -q "^4 done, 0 running, 0 pending, 0 failed" "$TMPD/st3" && ok "every run done" || fail "status after resubmission: $(cat "$TMPD/st3")"
: > "$SBATCH_LOG"
sweep "$TMPD/sweep.yaml" > "$TMPD/sub4" 2>&1
[ ! -s "$SBATCH_LOG" ] && grep -q "every run is done: nothing to submit" "$TMPD/sub4" && ok "a done sweep submits nothing" || fail "done sweep: $(cat "$TMPD/sub4")"

# 6. the report the aggregation job wrote (afterany: after the resubmitted tasks)
d="$TMPD/sw"
grep -q "sweep report: 4 of 4 runs" "$d/logs/report-4104.out" && ok "report job ran after the resubmitted tasks" || fail "report log: $(cat "$d/logs/report-4104.out")"
for f in sweep.md sweep.csv sweep_comparison.csv plots/heatmap_crows_pairs_en__pct_stereotype.svg plots/forest_crows_pairs_en__pct_stereotype.svg \
         plots/heatmap_sesgo__sesgo_bias_ambig.svg plots/forest_sesgo__sesgo_bias_ambig.svg; do
  [ -s "$d/$f" ] && ok "report wrote $f" || fail "report lacks $f"
done
python3 - "$d" <<'PY' && ok "sweep.csv: one row per model x benchmark x language x culture with CIs; comparisons against mistral; SVGs parse" || fail "report content"
import csv, sys, xml.dom.minidom
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/sweep.csv")))
keys = {(r["model"], r["benchmark"], r["language"], r["culture"]) for r in rows}
assert len(keys) == len(rows), "duplicate rows"
assert {r["model"] for r in rows} == {"gpt2", "llama", "mistral", "qwen2"}
assert {r["benchmark"] for r in rows} == {"crows_pairs_en", "sesgo"}
cp = [r for r in rows if r["benchmark"] == "crows_pairs_en"]
assert len(cp) == 4 and all(r["items"] == "12" for r in cp), cp
assert all(float(r["pct_stereotype_ci_low"]) <= float(r["pct_stereotype"]) <= float(r["pct_stereotype_ci_high"]) for r in cp)
cmp = list(csv.DictReader(open(f"{d}/sweep_comparison.csv")))
assert {r["model_a"] for r in cmp} == {"mistral"} and {r["model_b"] for r in cmp} == {"gpt2", "llama", "qwen2"}
assert any(r["kind"] == "paired_bootstrap" and r["metric"] == "pct_stereotype" and r["category"] == "all" for r in cmp)
md = open(f"{d}/sweep.md").read()
assert "## crows_pairs_en" in md and "![heatmap](plots/heatmap_crows_pairs_en__pct_stereotype.svg)" in md and "Against the baseline mistral" in md
for f in ["heatmap_crows_pairs_en__pct_stereotype.svg", "forest_sesgo__sesgo_bias_ambig.svg"]:
    doc = xml.dom.minidom.parse(f"{d}/plots/{f}")
    assert doc.documentElement.tagName == "svg"
h = xml.dom.minidom.parse(f"{d}/plots/heatmap_crows_pairs_en__pct_stereotype.svg")
assert len([r for r in h.getElementsByTagName("rect") if r.getAttribute("class") == "cell"]) == 4
PY
# no sanitizer report from any quipu command above, the jobs' logs included
if cat "$TMPD"/*.err "$TMPD"/st* "$TMPD"/sub* "$TMPD"/dry* "$TMPD"/sw/logs/* 2>/dev/null | grep -q -E "Sanitizer|runtime error"; then
  fail "sanitizer report: $(cat "$TMPD"/*.err "$TMPD"/st* "$TMPD"/sub* "$TMPD"/sw/logs/* | grep -m3 -E "Sanitizer|runtime error")"
else
  ok "no sanitizer report"
fi
finish
