/* sweep_internal.h — what sweep.c (the command line), sweep_config.c (the sweep file and the
 * per-model run configs), sweep_slurm.c (sbatch, squeue, sacct, the submissions record) and
 * sweep_report.c (the aggregation) share. */
#ifndef QUIPU_SWEEP_INTERNAL_H
#define QUIPU_SWEEP_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "config.h"
#include "sweep.h"

/* One model of the sweep: one run, one array task (its index in the sweep's model list). */
typedef struct sweep_run {
    const quipu_config_model *model; /* into cfg->models */
    char *config_path;               /* DIR/runs/<model>.yaml */
    char *out_dir;                   /* DIR/runs/<model> */
    char *config_text;               /* that config, as written */
    int done;                        /* out_dir/manifest.json (written last by `quipu run`) is newer
                                        than a config file whose text is config_text */
} sweep_run;

typedef struct quipu_sweep {
    const char *path;                /* the sweep file as given */
    const char *const *overrides;    /* the --set options, passed on to the report job */
    int n_overrides;
    quipu_config *cfg;               /* the runs' shared config with every model */
    const char *dir;                 /* cfg->output: the sweep folder */
    char *template_path;             /* the sbatch script every array task runs */
    int64_t throttle;                /* at most this many tasks at once (%N); 0 = no limit */
    quipu_strlist sbatch;            /* options for the array's sbatch */
    quipu_strlist report_sbatch;     /* options for the aggregation job's sbatch */
    int has_report_sbatch;
    char *baseline;                  /* model name, or NULL */
    int baseline_index;              /* -1 without one */
    sweep_run *runs;                 /* [cfg->n_models] */
    int n_runs;
} quipu_sweep;

/* Reads and checks the sweep file (every problem into errs, file:line:column), then derives the
 * runs: their paths, config texts and done flags. check_machine = 1 also checks this machine (model
 * files, datasets, backends), as `quipu run` does; 0 checks the file alone. */
quipu_status sweep_load(quipu_sweep *s, const char *path, const char *const *overrides, int n_overrides, int check_machine,
                        quipu_error_list *errs);
void sweep_free(quipu_sweep *s);
/* Writes DIR/runs/<model>.yaml (only those whose text changed, so that a finished run stays
 * newer than its config), DIR/runs.list and DIR/logs/; each config is read back and checked to
 * give the sweep's own settings for its model. */
quipu_status sweep_write_configs(quipu_sweep *s, quipu_error *err);

/* ---- Slurm (sweep_slurm.c) ---- */

typedef enum sweep_state {
    SWEEP_NOT_SUBMITTED = 0,
    SWEEP_PENDING,
    SWEEP_RUNNING,
    SWEEP_FAILED,
    SWEEP_DONE
} sweep_state;
const char *sweep_state_name(sweep_state s);

typedef struct sweep_status {
    sweep_state state;
    char job[64];       /* "JOBID_INDEX" of its latest array task, "" when never submitted */
    char *detail;       /* failed: the failing line of its log (or what Slurm says); may be NULL */
    char *log;          /* its latest log file, or NULL */
} sweep_status;

/* The state of every run ([n_runs], free with sweep_status_free), from the run folders, the
 * submissions record, and squeue/sacct when they are on PATH. */
quipu_status sweep_status_get(const quipu_sweep *s, sweep_status **out, quipu_error *err);
void sweep_status_free(sweep_status *st, int n);

/* Submits what is not done and not queued: one array job plus the aggregation job. dry_run prints
 * the sbatch commands and submits nothing. The array table goes to f. */
quipu_status sweep_submit(quipu_sweep *s, int dry_run, FILE *f, quipu_error *err);

/* ---- the report (sweep_report.c) ---- */

/* DIR/sweep.md, DIR/sweep.csv, DIR/sweep_comparison.csv (with a baseline) and
 * DIR/plots/{heatmap,forest}_<benchmark>__<metric>.svg, from the runs that have results. */
quipu_status sweep_report(const quipu_sweep *s, quipu_error *err);

#endif
