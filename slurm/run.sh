#!/bin/bash
# slurm/run.sh CONFIG [quipu run options...] — what every sbatch script here runs once its
# #SBATCH lines and modules are set: one `quipu run` step over all the job's tasks (one MPI rank
# per task), always with --resume, then a requeue when quipu was stopped by the time-limit signal.
#
#   - `#SBATCH --signal=USR1@300` (no `B:`) makes Slurm send SIGUSR1 to every rank about five
#     minutes before the time limit; quipu finishes and journals the batch in flight and every rank
#     exits with status 75.
#   - On 75 this script requeues the job (`scontrol requeue`, needs `#SBATCH --requeue`) until it
#     has been restarted QUIPU_MAX_RESTARTS times (default 20); the next start resumes from the
#     journal, and the results equal an uninterrupted run's, byte for byte.
#   - A config error (2) or any other failure is not requeued: the log says why.
#
# A sweep (`quipu sweep`) submits one array job over a template with DIR/runs.list as CONFIG: array
# task i runs the config on line i + 1 of that list.
#
# Environment: QUIPU (the binary; default $SLURM_SUBMIT_DIR/build/quipu), QUIPU_MAX_RESTARTS,
# QUIPU_SRUN_ARGS (extra srun options, e.g. "--gpu-bind=closest"). Submit from the repository root.
set -u
if [ $# -lt 1 ]; then
  echo "usage: slurm/run.sh CONFIG.yaml [quipu run options...]" >&2
  exit 2
fi
config=$1
shift
# a sweep's array job (quipu sweep, docs/sweep.md) passes DIR/runs.list: task i runs the config on line i + 1
if [ "${config%.list}" != "$config" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  list=$config
  config=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$list" 2>/dev/null)
  [ -n "$config" ] || { echo "slurm/run.sh: $list has no line for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2; }
fi
quipu=${QUIPU:-${SLURM_SUBMIT_DIR:-$PWD}/build/quipu}
[ -x "$quipu" ] || { echo "slurm/run.sh: $quipu: not an executable (build quipu first, or set QUIPU)" >&2; exit 2; }
[ -r "$config" ] || { echo "slurm/run.sh: $config: cannot read the config" >&2; exit 2; }
restarts=${SLURM_RESTART_COUNT:-0}
max=${QUIPU_MAX_RESTARTS:-20}
echo "slurm/run.sh: job ${SLURM_JOB_ID:-?} start $restarts, ${SLURM_NTASKS:-1} task(s) on ${SLURM_JOB_NUM_NODES:-1} node(s): $quipu run $config --resume $*"
# shellcheck disable=SC2086  # QUIPU_SRUN_ARGS holds several options
# --wait: if one rank dies the others are ended 10 seconds later instead of waiting for it forever
# (ranks that end normally, done or stopped by a signal, leave together: they agree before exiting;
# a rank that fails ends them all at once itself, through MPI_Abort)
srun --wait=10 ${SLURM_CPUS_PER_TASK:+--cpus-per-task=$SLURM_CPUS_PER_TASK} ${QUIPU_SRUN_ARGS:-} "$quipu" run "$config" --resume "$@"
rc=$?
case $rc in
  0) echo "slurm/run.sh: done" ;;
  75)
    if [ "$restarts" -lt "$max" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
      echo "slurm/run.sh: stopped before the time limit with the journal flushed; requeueing (start $((restarts + 1)) of at most $max)"
      scontrol requeue "$SLURM_JOB_ID" || echo "slurm/run.sh: scontrol requeue failed: resubmit the same script; it resumes" >&2
    else
      echo "slurm/run.sh: stopped before the time limit, $restarts restarts already (QUIPU_MAX_RESTARTS=$max): not requeued; resubmit to go on" >&2
    fi ;;
  *) echo "slurm/run.sh: quipu run failed with status $rc (see the messages above); not requeued" >&2 ;;
esac
exit $rc
