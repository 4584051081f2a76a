# test_slurm.sh — slurm/run.sh, the body of the sbatch scripts, with stand-ins for srun and
# scontrol: a first start is stopped by SIGUSR1 (as `#SBATCH --signal=USR1@120` does) and
# requeues itself; the requeued start resumes and the results equal an uninterrupted run's bytes;
# the restart limit and a config error are not requeued. Every slurm/*.sbatch is checked
# statically (bash -n; --time, --hint=nomultithread, --signal, --requeue, the account line, all
# #SBATCH lines before the first command, and a call to slurm/run.sh), the GPU templates' ranks,
# GPUs and cores per GPU against docs/cluster.md's table, and every template is run with the
# stand-ins (plus `module` and a quipu that logs its arguments): the GPU ones pass
# `--set backend=cuda|hip` to quipu ahead of the user's options and requeue on 75.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
run_sh="$QUIPU_SOURCE_DIR/slurm/run.sh"
for f in "$run_sh" "$QUIPU_SOURCE_DIR"/slurm/*.sbatch; do
  bash -n "$f" && ok "bash -n $(basename "$f")" || fail "$(basename "$f") does not parse"
done
# static checks on every template. sbatch reads #SBATCH lines only up to the first command, and
# one option per line (text after it would not be a comment to sbatch)
for f in "$QUIPU_SOURCE_DIR"/slurm/*.sbatch; do
  b=$(basename "$f")
  missing=""
  for opt in "--time=[0-9]" "--hint=nomultithread" "--signal=USR1@[0-9]" "--requeue" "--open-mode=append"; do
    grep -q -E -- "^#SBATCH $opt" "$f" || missing="$missing ${opt%%=*}"
  done
  [ -z "$missing" ] && ok "$b: --time, --hint=nomultithread, --signal=USR1@, --requeue, --open-mode=append" || fail "$b lacks:$missing"
  # the account to fill once: a `#SBATCH --account=` line (XXX placeholder in the GPU templates);
  # jean-zay-cpu.sbatch names it in its usage line (sbatch --account=<project>@cpu) instead
  if grep -q -E "^#SBATCH --account=[^ ]+$" "$f"; then ok "$b: account line $(grep -E -m1 '^#SBATCH --account=' "$f")"
  elif grep -q -E "^#.*sbatch --account=<project>" "$f"; then ok "$b: the account is named in its usage line"
  else fail "$b: no #SBATCH --account= line"; fi
  late=$(awk '/^#SBATCH/ { if (cmd) print FNR } !/^#/ && !/^[[:space:]]*$/ { cmd = 1 }' "$f")
  [ -z "$late" ] && ok "$b: every #SBATCH line before the first command" || fail "$b: #SBATCH after the first command (ignored by sbatch) at lines$late"
  extra=$(awk '/^#SBATCH/ && NF != 2 { print FNR }' "$f")
  [ -z "$extra" ] && ok "$b: one option per #SBATCH line" || fail "$b: text after the option on #SBATCH lines $extra"
  grep -q -E '^exec bash "\$\{SLURM_SUBMIT_DIR:-\.\}/slurm/run\.sh"' "$f" && ok "$b: runs slurm/run.sh" || fail "$b: does not exec slurm/run.sh"
done
# GPU templates: template ntasks-per-node GPU-request cpus-per-task backend account (docs/cluster.md,
# from HPC.md §1.1, §1.4, §2.1, §2.2)
gpu_templates="jean-zay-v100 4 --gres=gpu:4 10 cuda XXX@v100
jean-zay-a100 8 --gres=gpu:8 8 cuda XXX@a100
jean-zay-h100 4 --gres=gpu:4 24 cuda XXX@h100
adastra-mi250x 8 --gpus-per-node=8 8 hip XXX"
while read -r t ntasks gpus cpus backend account; do
  f="$QUIPU_SOURCE_DIR/slurm/$t.sbatch"
  [ -f "$f" ] || { fail "slurm/$t.sbatch is missing"; continue; }
  bad=""
  for l in "--ntasks-per-node=$ntasks" "$gpus" "--cpus-per-task=$cpus" "--account=$account"; do
    grep -q -x -- "#SBATCH $l" "$f" || bad="$bad $l"
  done
  [ -z "$bad" ] && ok "$t.sbatch: $ntasks ranks per node, $gpus, $cpus cores per GPU, account $account" || fail "$t.sbatch lacks #SBATCH$bad"
done <<< "$gpu_templates"

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
grep -q -x -- "--cpus-per-task=2" "$TMPD/srun.log" && grep -q -x -- "--wait=10" "$TMPD/srun.log" && ok "srun gets --cpus-per-task and --wait" || fail "srun options: $(cat "$TMPD/srun.log")"
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

# the templates themselves, run as sbatch would run them (from the repository root, with the
# #SBATCH --cpus-per-task in SLURM_CPUS_PER_TASK), through the srun and scontrol stand-ins, a
# `module` that logs its calls and a quipu that logs its arguments and exits with FAKE_RC
printf '#!/bin/sh\necho "$*" >> "$MODULE_LOG"\n' > "$TMPD/bin/module"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" > "$QUIPU_ARGS_LOG"\nexit ${FAKE_RC:-0}\n' > "$TMPD/fakequipu"
chmod +x "$TMPD/bin/module" "$TMPD/fakequipu"
for f in "$QUIPU_SOURCE_DIR"/slurm/*.sbatch; do
  b=$(basename "$f" .sbatch)
  backend=$(printf '%s\n' "$gpu_templates" | awk -v t="$b" '$1 == t { print $5 }')
  cpus=$(sed -n 's/^#SBATCH --cpus-per-task=//p' "$f")
  for rc_want in 0 75; do
    rm -f "$TMPD/scontrol.log" "$TMPD/args.log" "$TMPD/srun.log" "$TMPD/module.log"
    rc=0
    (cd "$QUIPU_SOURCE_DIR" && SLURM_SUBMIT_DIR="$QUIPU_SOURCE_DIR" SLURM_CPUS_PER_TASK="$cpus" SLURM_RESTART_COUNT=0 \
      QUIPU="$TMPD/fakequipu" FAKE_RC=$rc_want QUIPU_ARGS_LOG="$TMPD/args.log" MODULE_LOG="$TMPD/module.log" \
      QUIPU_SRUN_ARGS='' env -u "BASH_FUNC_module%%" bash "$f" "$TMPD/run.yaml" --set scoring.batch_tokens=32) > "$TMPD/t.out" 2>&1 || rc=$?
    want="run $TMPD/run.yaml --resume${backend:+ --set backend=$backend} --set scoring.batch_tokens=32"
    got=$(cat "$TMPD/args.log" 2>/dev/null)
    if [ "$rc_want" = 0 ]; then
      [ "$rc" = 0 ] && [ "$got" = "$want" ] && ok "$b.sbatch: quipu gets '$got'" || fail "$b.sbatch: rc $rc, quipu got '$got', expected '$want' ($(tail -3 "$TMPD/t.out"))"
      grep -q -x -- "--cpus-per-task=$cpus" "$TMPD/srun.log" && ok "$b.sbatch: srun gets --cpus-per-task=$cpus" || fail "$b.sbatch: srun options $(tr '\n' ' ' < "$TMPD/srun.log")"
      grep -q "^purge" "$TMPD/module.log" && grep -q "^load " "$TMPD/module.log" && ok "$b.sbatch: module $(grep '^load' "$TMPD/module.log" | tr '\n' ';')" || fail "$b.sbatch: module calls $(cat "$TMPD/module.log" 2>/dev/null)"
      [ ! -f "$TMPD/scontrol.log" ] && ok "$b.sbatch: finished, no requeue" || fail "$b.sbatch: requeued after exit 0"
    else
      [ "$rc" = 75 ] && [ "$(cat "$TMPD/scontrol.log" 2>/dev/null)" = "requeue 4242" ] && ok "$b.sbatch: exit 75 requeues" || fail "$b.sbatch: exit 75 gave rc $rc, scontrol '$(cat "$TMPD/scontrol.log" 2>/dev/null)'"
    fi
  done
done
# each MI250X task is bound to one GCD (else quipu would pick by SLURM_LOCALID among two); the
# Jean Zay ones select by SLURM_LOCALID among the node's GPUs, as IDRIS documents
f="$QUIPU_SOURCE_DIR/slurm/adastra-mi250x.sbatch"
rm -f "$TMPD/srun.log"
(cd "$QUIPU_SOURCE_DIR" && SLURM_SUBMIT_DIR="$QUIPU_SOURCE_DIR" SLURM_CPUS_PER_TASK=8 QUIPU="$TMPD/fakequipu" QUIPU_ARGS_LOG="$TMPD/args.log" \
  MODULE_LOG="$TMPD/module.log" QUIPU_SRUN_ARGS="--mpi=pmi2" env -u "BASH_FUNC_module%%" bash "$f" "$TMPD/run.yaml") > "$TMPD/t.out" 2>&1
grep -q -x -- "--gpus-per-task=1" "$TMPD/srun.log" && grep -q -x -- "--gpu-bind=verbose,closest" "$TMPD/srun.log" && grep -q -x -- "--mpi=pmi2" "$TMPD/srun.log" \
  && ok "adastra-mi250x.sbatch: srun --gpus-per-task=1 --gpu-bind=verbose,closest, plus QUIPU_SRUN_ARGS" || fail "adastra-mi250x.sbatch: srun options $(tr '\n' ' ' < "$TMPD/srun.log")"
# without a config: usage, exit 2, quipu not started
rm -f "$TMPD/args.log"
rc=0; (cd "$QUIPU_SOURCE_DIR" && SLURM_SUBMIT_DIR="$QUIPU_SOURCE_DIR" QUIPU="$TMPD/fakequipu" MODULE_LOG="$TMPD/module.log" env -u "BASH_FUNC_module%%" bash slurm/jean-zay-h100.sbatch) > "$TMPD/t.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && [ ! -f "$TMPD/args.log" ] && grep -q "usage:" "$TMPD/t.out" && ok "jean-zay-h100.sbatch without a config: usage, exit 2" || fail "no config: rc $rc, $(tail -2 "$TMPD/t.out")"
finish
