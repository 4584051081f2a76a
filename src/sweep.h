/* sweep.h — `quipu sweep SWEEP.yaml`: an experiment config over many models, run as one Slurm job
 * array (one task per model, every benchmark, throttled with %N) plus an aggregation job
 * (`--dependency=afterany`) that writes the sweep's report. The sweep file is a run config
 * (docs/config.md) plus a `sweep:` section (docs/sweep.md):
 *
 *   quipu sweep SWEEP.yaml [--set key=value]... [--dry-run]   submit what is not done yet
 *   quipu sweep status SWEEP.yaml [--set key=value]...        done / running / pending / failed per run
 *   quipu sweep report SWEEP.yaml [--set key=value]...        sweep.md, sweep.csv, plots (the aggregation job)
 *
 * The sweep folder (the config's `output`) holds runs/<model>.yaml (one run config per model),
 * runs/<model>/ (that run's output), runs.list (line i: model i's config, read by slurm/run.sh
 * in array task i), logs/, submissions.tsv (every job submitted) and the report. */
#ifndef QUIPU_SWEEP_H
#define QUIPU_SWEEP_H

/* argc/argv start at "sweep". Returns the process exit status: 0 done, 1 error (one line), 2 usage
 * or sweep-file errors (every one, file:line:column). */
int quipu_sweep_main(int argc, char **argv);

#endif
