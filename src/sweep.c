/* sweep.c — the `quipu sweep` command line (sweep.h): submit (the default), status, report. */
#define _POSIX_C_SOURCE 200809L
#include "sweep_internal.h"

#include <stdlib.h>
#include <string.h>

static void usage_sweep(FILE *f) {
    fprintf(f,
            "usage: quipu sweep SWEEP.yaml [--set key=value]... [--dry-run]\n"
            "       quipu sweep status SWEEP.yaml [--set key=value]...\n"
            "       quipu sweep report SWEEP.yaml [--set key=value]...\n"
            "\n"
            "A sweep file is a run config (docs/config.md) over many models plus a `sweep:` section: the sbatch\n"
            "template each run uses, the throttle, sbatch options, a baseline model (docs/sweep.md). Run it from\n"
            "the repository root, where it calls sbatch.\n"
            "\n"
            "  (submit)   writes one run config per model into the sweep folder, then submits one Slurm job array\n"
            "             (task i = model i, at most `throttle` at once) and a report job that runs after it\n"
            "             (afterany). Runs already done are skipped, runs still queued are left alone: only\n"
            "             failed, unfinished or new ones are submitted.\n"
            "  --dry-run  prints the array table and the sbatch commands; writes and submits nothing\n"
            "  status     each run: done, running, pending, failed (with the failing line of its log), not\n"
            "             submitted; from squeue/sacct when they are on PATH, else from the run folders and logs\n"
            "  report     sweep.md, sweep.csv, a model x culture heatmap and a forest plot per benchmark (plots/),\n"
            "             and paired comparisons against the baseline model (sweep_comparison.csv)\n"
            "  --set key=value   override a key of the sweep file (sweep.throttle=2, models.3.dtype=f32, ...)\n"
            "\n"
            "Exit status: 0 done; 1 error; 2 usage or sweep-file errors (every one, FILE:LINE:COL).\n");
}

int quipu_sweep_main(int argc, char **argv) {
    const char *what = "submit", *path = NULL;
    const char **overrides = calloc((size_t)(argc > 0 ? argc : 1), sizeof *overrides);
    int n_over = 0, dry_run = 0, rc = 2;
    if (!overrides) {
        fprintf(stderr, "quipu sweep: out of memory\n");
        return 1;
    }
    int i = 1;
    if (i < argc && (!strcmp(argv[i], "status") || !strcmp(argv[i], "report") || !strcmp(argv[i], "submit"))) what = argv[i++];
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage_sweep(stdout);
            free(overrides);
            return 0;
        }
        if (!strcmp(a, "--dry-run") && !strcmp(what, "submit")) {
            dry_run = 1;
        } else if (!strcmp(a, "--set") || !strncmp(a, "--set=", 6)) {
            const char *v = a[5] == '=' ? a + 6 : i + 1 < argc ? argv[++i] : NULL;
            if (!v) {
                fprintf(stderr, "quipu sweep: --set needs key=value\n");
                goto out;
            }
            overrides[n_over++] = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "quipu sweep: unknown option '%s' for %s (see quipu sweep --help)\n", a, what);
            goto out;
        } else if (path) {
            fprintf(stderr, "quipu sweep: one sweep file, not '%s' and '%s' (see quipu sweep --help)\n", path, a);
            goto out;
        } else {
            path = a;
        }
    }
    if (!path) {
        usage_sweep(stderr);
        goto out;
    }
    /* the file alone is checked for a dry run, status and the report; a submission also checks
       this machine (model files, datasets, backends), as each run will */
    quipu_sweep s;
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    int check_machine = !strcmp(what, "submit") && !dry_run;
    quipu_status st = sweep_load(&s, path, overrides, n_over, check_machine, &errs);
    if (st) {
        quipu_error_list_print(&errs, stderr);
        quipu_error_list_free(&errs);
        rc = st == QUIPU_ERR_NOMEM ? 1 : 2;
        goto out;
    }
    quipu_error_list_free(&errs);
    quipu_error err = {0};
    rc = 0;
    if (!strcmp(what, "submit")) {
        if (sweep_submit(&s, dry_run, stdout, &err)) rc = 1;
    } else if (!strcmp(what, "report")) {
        if (sweep_report(&s, &err)) rc = 1;
    } else {
        sweep_status *sts = NULL;
        if (sweep_status_get(&s, &sts, &err)) {
            rc = 1;
        } else {
            int count[SWEEP_DONE + 1] = {0};
            size_t w = 5;
            for (int k = 0; k < s.n_runs; k++)
                if (strlen(s.runs[k].model->name) > w) w = strlen(s.runs[k].model->name);
            printf("%-4s  %-*s  %-13s  %-14s  %s\n", "task", (int)w, "model", "state", "job", "detail");
            for (int k = 0; k < s.n_runs; k++) {
                count[sts[k].state]++;
                printf("%-4d  %-*s  %-13s  %-14s  %s\n", k, (int)w, s.runs[k].model->name, sweep_state_name(sts[k].state),
                       sts[k].job[0] ? sts[k].job : "-",
                       sts[k].state == SWEEP_DONE ? s.runs[k].out_dir : sts[k].detail ? sts[k].detail : "");
            }
            printf("%d done, %d running, %d pending, %d failed, %d not submitted (of %d)\n", count[SWEEP_DONE], count[SWEEP_RUNNING],
                   count[SWEEP_PENDING], count[SWEEP_FAILED], count[SWEEP_NOT_SUBMITTED], s.n_runs);
            sweep_status_free(sts, s.n_runs);
        }
    }
    if (rc) fprintf(stderr, "quipu sweep: %s\n", err.code ? err.msg : "failed");
    sweep_free(&s);
out:
    free(overrides);
    return rc;
}
