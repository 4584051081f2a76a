/* sweep_slurm.c — the sweep and Slurm: the array job (one task per model, task i runs line i of
 * DIR/runs.list through the sweep's sbatch template), the aggregation job (afterany), the record
 * of every submission (DIR/submissions.tsv: "array|report <TAB> job id <TAB> tasks|dependency <TAB>
 * time"), and each run's state from its folder, its log, and squeue/sacct when they are on PATH. */
#define _POSIX_C_SOURCE 200809L
#include "sweep_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *sweep_state_name(sweep_state s) {
    switch (s) {
    case SWEEP_DONE: return "done";
    case SWEEP_RUNNING: return "running";
    case SWEEP_PENDING: return "pending";
    case SWEEP_FAILED: return "failed";
    default: return "not submitted";
    }
}

/* ---- external programs ---- */

/* 1 if `name` is an executable file in a PATH folder. */
static int have_program(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    while (*path) {
        size_t n = strcspn(path, ":");
        char full[PATH_MAX];
        if (n && n + strlen(name) + 2 < sizeof full) {
            snprintf(full, sizeof full, "%.*s/%s", (int)n, path, name);
            struct stat st;
            if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) return 1;
        }
        path += n;
        if (*path) path++;
    }
    return 0;
}

/* Runs argv[0] (found on PATH) with stdout and stderr into *out (NUL-terminated heap text).
 * Returns its exit status, 127 when it could not start, -1 with err set on a system failure. */
static int run_capture(char *const argv[], char **out, quipu_error *err) {
    *out = NULL;
    int fd[2];
    if (pipe(fd) != 0) return quipu_error_set(err, QUIPU_ERR_IO, "pipe: %s", strerror(errno)), -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return quipu_error_set(err, QUIPU_ERR_IO, "fork: %s", strerror(errno)), -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        dup2(fd[1], STDERR_FILENO);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
                cap *= 2;
            }
        }
        char sink[4096];
        ssize_t r = buf ? read(fd[0], buf + n, cap - n - 1) : read(fd[0], sink, sizeof sink);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (buf) n += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!buf) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"), -1;
    buf[n] = '\0';
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The last non-empty line of text (static copy, at most 400 bytes). */
static const char *last_line(const char *text) {
    static char line[400];
    line[0] = '\0';
    const char *p = text ? text : "";
    while (*p) {
        size_t n = strcspn(p, "\n");
        size_t k = n;
        while (k && (p[k - 1] == '\r' || p[k - 1] == ' ')) k--;
        if (k) snprintf(line, sizeof line, "%.*s", (int)k, p);
        p += n;
        if (*p) p++;
    }
    return line;
}

/* ---- task lists: "0-3,5,7" ---- */

static void spec_format(char *out, size_t cap, const int *idx, int n) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && idx[j + 1] == idx[j] + 1) j++;
        int w = j > i ? snprintf(out + len, cap - len, "%s%d-%d", len ? "," : "", idx[i], idx[j])
                      : snprintf(out + len, cap - len, "%s%d", len ? "," : "", idx[i]);
        if (w < 0 || (size_t)w >= cap - len) return;
        len += (size_t)w;
        i = j + 1;
    }
}

static int spec_has(const char *spec, int k) {
    const char *p = spec;
    while (*p && *p != '%') {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) return 0;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            p = end;
        }
        if (k >= a && k <= b) return 1;
        if (*p == ',') p++;
        else break;
    }
    return 0;
}

/* ---- the submissions record ---- */

/* The job id of the latest array job that held task k, into job (""), from DIR/submissions.tsv. */
static void latest_job(const quipu_sweep *s, int k, char *job, size_t cap) {
    job[0] = '\0';
    char *path = quipu_asprintf("%s/submissions.tsv", s->dir);
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f) return;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        char *kind = strtok(line, "\t\n"), *id = strtok(NULL, "\t\n"), *spec = strtok(NULL, "\t\n");
        if (kind && id && spec && !strcmp(kind, "array") && spec_has(spec, k)) snprintf(job, cap, "%s", id);
    }
    fclose(f);
}

static quipu_status record(const quipu_sweep *s, const char *kind, const char *id, const char *what, quipu_error *err) {
    char *path = quipu_asprintf("%s/submissions.tsv", s->dir);
    if (!path) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    FILE *f = fopen(path, "a");
    if (!f) {
        quipu_status st = quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(path);
        return st;
    }
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "%s\t%s\t%s\t%s\n", kind, id, what, when);
    int bad = fclose(f) != 0;
    quipu_status st = bad ? quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno)) : QUIPU_OK;
    free(path);
    return st;
}

/* ---- logs ---- */

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* "FILE:LINE:COL: " at the start of a line: a config error. */
static int located(const char *s) {
    const char *c = strchr(s, ':');
    if (!c || c == s || strchr(s, ' ') < c) return 0;
    int digits = 0;
    for (int part = 0; part < 2; part++) {
        c++;
        digits = 0;
        while (isdigit((unsigned char)*c)) c++, digits++;
        if (!digits || *c != ':') return 0;
    }
    return c[1] == ' ';
}

/* A line that says why a run failed: quipu's errors, config errors, Slurm's. */
static int error_line(const char *s) {
    if (starts(s, "quipu")) {
        const char *p = s + 5;
        if (*p == '[') p = strchr(p, ']') ? strchr(p, ']') + 1 : p;
        return !(starts(p, " info:") || starts(p, " warn:") || starts(p, " debug:"));
    }
    return starts(s, "srun: error:") || starts(s, "slurmstepd: error:") || strstr(s, ": error:") || located(s) ||
           strstr(s, "Killed") || strstr(s, "Segmentation fault") || strstr(s, "Out Of Memory") || strstr(s, "oom-kill");
}

/* Reads the log: *ended 1 when slurm/run.sh wrote its last word ("done" 2), and the line that says
 * why it failed (heap, or NULL). Returns 0 when there is no log. */
static int read_log(const char *path, int *ended, char **why) {
    *ended = 0;
    *why = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL, *err_l = NULL, *runsh = NULL, *last = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (!n) continue;
        char **slot = starts(line, "slurm/run.sh: ") ? &runsh : error_line(line) ? &err_l : &last;
        if (starts(line, "slurm/run.sh: ")) {
            if (strstr(line, "failed with status") || strstr(line, "not requeued")) *ended = 1;
            else if (!strcmp(line, "slurm/run.sh: done")) *ended = 2;
            else if (strstr(line, "requeueing") || strstr(line, ": job ")) *ended = 0; /* started again */
            if (strstr(line, ": job ")) { /* a new start: earlier errors belong to an earlier attempt */
                free(err_l);
                err_l = NULL;
            }
        }
        free(*slot);
        *slot = strdup(line);
    }
    free(line);
    fclose(f);
    if (err_l) {
        *why = err_l;
        free(runsh);
        free(last);
    } else if (runsh) {
        *why = runsh;
        free(last);
    } else {
        *why = last;
    }
    return 1;
}

/* ---- state ---- */

typedef struct slurm_info {
    char *squeue, *sacct; /* outputs ("JOB_TASK|STATE[|EXIT]" lines); NULL: not asked */
} slurm_info;

/* STATE of "job" in an output of "JOB|STATE..." lines, into state ("" when absent). */
static void find_state(const char *text, const char *job, char *state, size_t cap, char *exitc, size_t ecap) {
    state[0] = '\0';
    if (exitc) exitc[0] = '\0';
    size_t jl = strlen(job);
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (n > jl && !strncmp(p, job, jl) && p[jl] == '|') {
            const char *st = p + jl + 1;
            size_t sl = strcspn(st, "| \n");
            snprintf(state, cap, "%.*s", (int)sl, st);
            const char *e = memchr(st, '|', (size_t)(p + n - st));
            if (exitc && e) snprintf(exitc, ecap, "%.*s", (int)(p + n - e - 1), e + 1);
        }
        p += n;
        if (*p) p++;
    }
}

static int state_running(const char *s) { return !strcmp(s, "RUNNING") || !strcmp(s, "COMPLETING") || !strcmp(s, "CONFIGURING"); }
static int state_pending(const char *s) {
    return !strcmp(s, "PENDING") || !strcmp(s, "REQUEUED") || !strcmp(s, "SUSPENDED") || !strcmp(s, "REQUEUE_HOLD") ||
           !strcmp(s, "REQUEUE_FED") || !strcmp(s, "RESIZING");
}

/* Asks squeue and sacct (when on PATH) about the runs' latest jobs. */
static quipu_status slurm_ask(const quipu_sweep *s, char jobs[][64], slurm_info *si, quipu_error *err) {
    char ids[4096] = "";
    size_t len = 0;
    for (int i = 0; i < s->n_runs; i++) {
        if (!jobs[i][0] || s->runs[i].done) continue;
        char id[64];
        snprintf(id, sizeof id, "%s", jobs[i]);
        char *us = strchr(id, '_');
        if (us) *us = '\0';
        char probe[80];
        snprintf(probe, sizeof probe, ",%s,", id);
        char have[4100];
        snprintf(have, sizeof have, ",%s,", ids);
        if (strstr(have, probe) || len + strlen(id) + 2 >= sizeof ids) continue;
        len += (size_t)snprintf(ids + len, sizeof ids - len, "%s%s", len ? "," : "", id);
    }
    if (!len) return QUIPU_OK;
    if (have_program("squeue")) {
        char *argv[] = {"squeue", "-h", "-r", "-o", "%i|%T", "-j", ids, NULL};
        if (run_capture(argv, &si->squeue, err) < 0) return err->code;
    }
    if (have_program("sacct")) {
        char *argv[] = {"sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", ids, NULL};
        if (run_capture(argv, &si->sacct, err) < 0) return err->code;
    }
    return QUIPU_OK;
}

/* slurm_active[i] = 1 when squeue says run i's task is queued or running. */
static quipu_status status_get(const quipu_sweep *s, sweep_status **out, int *slurm_active, quipu_error *err) {
    sweep_status *st = calloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *st);
    char (*jobs)[64] = calloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *jobs);
    slurm_info si = {0};
    quipu_status rc = QUIPU_OK;
    if (!st || !jobs) {
        free(st);
        free(jobs);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < s->n_runs; i++) latest_job(s, i, jobs[i], sizeof jobs[i]);
    if ((rc = slurm_ask(s, jobs, &si, err))) goto done;
    for (int i = 0; i < s->n_runs; i++) {
        sweep_status *x = &st[i];
        if (slurm_active) slurm_active[i] = 0;
        if (jobs[i][0]) {
            snprintf(x->job, sizeof x->job, "%s_%d", jobs[i], i);
            x->log = quipu_asprintf("%s/logs/%s.out", s->dir, x->job);
            if (!x->log) {
                rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                goto done;
            }
        }
        if (s->runs[i].done) {
            x->state = SWEEP_DONE;
            continue;
        }
        if (!jobs[i][0]) {
            x->state = SWEEP_NOT_SUBMITTED;
            continue;
        }
        char q[64] = "", a[64] = "", ex[64] = "";
        if (si.squeue) find_state(si.squeue, x->job, q, sizeof q, NULL, 0);
        if (si.sacct) find_state(si.sacct, x->job, a, sizeof a, ex, sizeof ex);
        int ended = 0;
        char *why = NULL;
        int has_log = read_log(x->log, &ended, &why);
        if (q[0] && (state_running(q) || state_pending(q))) {
            x->state = state_running(q) ? SWEEP_RUNNING : SWEEP_PENDING;
            if (slurm_active) slurm_active[i] = 1;
            free(why);
            continue;
        }
        if (a[0] && (state_running(a) || state_pending(a)) && !q[0] && !si.squeue) {
            x->state = state_running(a) ? SWEEP_RUNNING : SWEEP_PENDING;
            free(why);
            continue;
        }
        if (a[0] && !state_running(a) && !state_pending(a)) {
            /* finished, and not done: FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL, or
               COMPLETED without results */
            x->state = SWEEP_FAILED;
            x->detail = why ? why : quipu_asprintf("Slurm says %s (exit %s) and the log %s", a, ex[0] ? ex : "?",
                                                   has_log ? "says nothing more" : "is missing");
            continue;
        }
        if (si.squeue && !q[0] && has_log) { /* gone from the queue, not done */
            x->state = SWEEP_FAILED;
            x->detail = why;
            continue;
        }
        /* no word from Slurm: the log alone */
        if (!has_log) {
            x->state = si.squeue ? SWEEP_FAILED : SWEEP_PENDING;
            x->detail = si.squeue ? quipu_asprintf("not in the queue and no log (%s)", x->log) : NULL;
            free(why);
        } else if (ended) {
            x->state = SWEEP_FAILED;
            x->detail = why;
        } else {
            x->state = SWEEP_RUNNING;
            free(why);
        }
    }
done:
    free(si.squeue);
    free(si.sacct);
    free(jobs);
    if (rc) {
        sweep_status_free(st, s->n_runs);
        return rc;
    }
    *out = st;
    return QUIPU_OK;
}

quipu_status sweep_status_get(const quipu_sweep *s, sweep_status **out, quipu_error *err) { return status_get(s, out, NULL, err); }

void sweep_status_free(sweep_status *st, int n) {
    if (!st) return;
    for (int i = 0; i < n; i++) {
        free(st[i].detail);
        free(st[i].log);
    }
    free(st);
}

/* ---- submit ---- */

/* A word for a POSIX shell: as is when safe, else in single quotes. */
static void shell_word(FILE *f, const char *w) {
    if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,%@+") == strlen(w)) {
        fputs(w, f);
        return;
    }
    fputc('\'', f);
    for (; *w; w++) {
        if (*w == '\'') fputs("'\\''", f);
        else fputc(*w, f);
    }
    fputc('\'', f);
}

static char *shell_join(char *const *argv) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return NULL;
    for (int i = 0; argv[i]; i++) {
        if (i) fputc(' ', m);
        shell_word(m, argv[i]);
    }
    fclose(m);
    return text;
}

/* The quipu the aggregation job runs: $QUIPU, else this very binary. */
static char *self_path(void) {
    const char *q = getenv("QUIPU");
    if (q && *q) return strdup(q);
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return strdup("build/quipu");
    buf[n] = '\0';
    return strdup(buf);
}

/* Job id from `sbatch --parsable` ("123" or "123;cluster"); 0 when there is none. */
static int parse_job_id(const char *out, char *id, size_t cap) {
    const char *p = out;
    while (*p) { /* the last line that starts with digits */
        size_t n = strcspn(p, "\n");
        size_t d = strspn(p, "0123456789");
        if (d && (d == n || p[d] == ';' || p[d] == '\r')) snprintf(id, cap, "%.*s", (int)d, p);
        p += n;
        if (*p) p++;
    }
    return id[0] != '\0';
}

static void print_table(const quipu_sweep *s, const sweep_status *st, const int *submit, FILE *f) {
    size_t w = 5;
    for (int i = 0; i < s->n_runs; i++)
        if (strlen(s->runs[i].model->name) > w) w = strlen(s->runs[i].model->name);
    fprintf(f, "%-4s  %-*s  %-7s  %-5s  %-2s  %-10s  %s\n", "task", (int)w, "model", "backend", "dtype", "tp", "max_length", "action");
    for (int i = 0; i < s->n_runs; i++) {
        const quipu_config_model *m = s->runs[i].model;
        char act[160];
        if (submit[i])
            snprintf(act, sizeof act, "%s", st[i].state == SWEEP_FAILED ? "submit again (failed)" : st[i].state == SWEEP_NOT_SUBMITTED ? "submit" : "submit again (unfinished)");
        else if (st[i].state == SWEEP_DONE)
            snprintf(act, sizeof act, "skip (done)");
        else
            snprintf(act, sizeof act, "skip (%s as %s)", sweep_state_name(st[i].state), st[i].job);
        fprintf(f, "%-4d  %-*s  %-7s  %-5s  %-2lld  %-10lld  %s\n", i, (int)w, m->name, quipu_cfg_backend_name(m->backend),
                quipu_cfg_dtype_name(m->dtype), (long long)m->tensor_parallel, (long long)m->max_length, act);
    }
}

quipu_status sweep_submit(quipu_sweep *s, int dry_run, FILE *f, quipu_error *err) {
    sweep_status *st = NULL;
    int *active = calloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *active);
    int *submit = calloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *submit);
    int *idx = calloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *idx);
    char **argv = NULL, *quipu = NULL, *wrap = NULL, *out = NULL, *cmd = NULL;
    char spec[8192], array_id[64] = "", report_id[64] = "", dep[4096];
    quipu_status rc = QUIPU_OK;
    if (!active || !submit || !idx) {
        rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = status_get(s, &st, active, err))) goto done;
    int n_sub = 0, n_done = 0;
    for (int i = 0; i < s->n_runs; i++) {
        submit[i] = st[i].state != SWEEP_DONE && !active[i];
        if (submit[i]) idx[n_sub++] = i;
        n_done += st[i].state == SWEEP_DONE;
    }
    fprintf(f, "sweep %s: %d run%s (one per model) x %d benchmark%s in %s\n", s->cfg->name, s->n_runs, s->n_runs == 1 ? "" : "s",
            s->cfg->n_benchmarks, s->cfg->n_benchmarks == 1 ? "" : "s", s->dir);
    print_table(s, st, submit, f);
    spec_format(spec, sizeof spec, idx, n_sub);
    /* the report waits for every task still queued from earlier submissions, and the new array */
    size_t dl = 0;
    dep[0] = '\0';
    for (int i = 0; i < s->n_runs; i++) {
        if (!active[i]) continue;
        char id[64];
        snprintf(id, sizeof id, "%s", st[i].job);
        if (strchr(id, '_')) *strchr(id, '_') = '\0';
        char probe[80];
        snprintf(probe, sizeof probe, ":%s:", id);
        char have[4200];
        snprintf(have, sizeof have, ":%s:", dep);
        if (!strstr(have, probe) && dl + strlen(id) + 2 < sizeof dep) dl += (size_t)snprintf(dep + dl, sizeof dep - dl, "%s%s", dl ? ":" : "", id);
    }
    if (!n_sub) {
        if (n_done == s->n_runs)
            fprintf(f, "every run is done: nothing to submit (quipu sweep report %s writes the report)\n", s->path);
        else
            fprintf(f, "nothing to submit: the other runs are still queued (quipu sweep status %s)\n", s->path);
        goto done;
    }
    if (!dry_run && (rc = sweep_write_configs(s, err))) goto done;
    /* the array */
    int na = 0, cap = 12 + s->sbatch.n + s->report_sbatch.n + 2 * s->n_overrides;
    argv = calloc((size_t)cap + 8, sizeof *argv);
    char *a_array = NULL, *a_name = NULL, *a_out = NULL, *a_list = NULL, *a_dep = NULL, *a_rname = NULL, *a_rout = NULL;
    if (!argv) {
        rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    a_array = s->throttle > 0 ? quipu_asprintf("--array=%s%%%lld", spec, (long long)s->throttle) : quipu_asprintf("--array=%s", spec);
    a_name = quipu_asprintf("--job-name=%s", s->cfg->name);
    a_out = quipu_asprintf("--output=%s/logs/%%A_%%a.out", s->dir);
    a_list = quipu_asprintf("%s/runs.list", s->dir);
    a_rname = quipu_asprintf("--job-name=%s-report", s->cfg->name);
    a_rout = quipu_asprintf("--output=%s/logs/report-%%j.out", s->dir);
    quipu = self_path();
    if (!a_array || !a_name || !a_out || !a_list || !a_rname || !a_rout || !quipu) {
        rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto free_args;
    }
    argv[na++] = "sbatch";
    argv[na++] = "--parsable";
    argv[na++] = a_array;
    argv[na++] = a_name;
    argv[na++] = a_out;
    for (int k = 0; k < s->sbatch.n; k++) argv[na++] = s->sbatch.v[k];
    argv[na++] = s->template_path;
    argv[na++] = a_list;
    argv[na] = NULL;
    cmd = shell_join(argv);
    if (!cmd) {
        rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto free_args;
    }
    if (dry_run) {
        fprintf(f, "dry run: nothing is written or submitted; from this folder quipu sweep would run\n  array=$(%s)\n", cmd);
        snprintf(array_id, sizeof array_id, "%s", "$array");
    } else {
        int ec = run_capture(argv, &out, err);
        if (ec < 0) {
            rc = err->code;
            goto free_args;
        }
        if (ec != 0 || !parse_job_id(out, array_id, sizeof array_id)) {
            rc = quipu_error_set(err, QUIPU_ERR_IO, "sbatch %s (exit %d): %s", ec == 127 ? "could not start" : "refused the array",
                                 ec, *last_line(out) ? last_line(out) : "no job id in its output");
            goto free_args;
        }
        free(out);
        out = NULL;
        if ((rc = record(s, "array", array_id, spec, err))) goto free_args;
        fprintf(f, "submitted array job %s: tasks %s%s (%s)\n", array_id, spec, s->throttle > 0 ? "" : ", no throttle", cmd);
    }
    /* the aggregation job: afterany, so that it reports whatever finished */
    dl = strlen(dep);
    snprintf(dep + dl, sizeof dep - dl, "%s%s", dl ? ":" : "", array_id);
    a_dep = quipu_asprintf("--dependency=afterany:%s", dep);
    {
        char *wargv[8 + 2 * 256];
        int nw = 0;
        wargv[nw++] = quipu;
        wargv[nw++] = "sweep";
        wargv[nw++] = "report";
        wargv[nw++] = (char *)s->path;
        for (int k = 0; k < s->n_overrides && k < 256; k++) {
            wargv[nw++] = "--set";
            wargv[nw++] = (char *)s->overrides[k];
        }
        wargv[nw] = NULL;
        char *w = shell_join(wargv);
        wrap = w ? quipu_asprintf("--wrap=%s", w) : NULL;
        free(w);
    }
    if (!a_dep || !wrap) {
        rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto free_args;
    }
    na = 0;
    argv[na++] = "sbatch";
    argv[na++] = "--parsable";
    argv[na++] = a_dep;
    argv[na++] = a_rname;
    argv[na++] = a_rout;
    if (s->has_report_sbatch) {
        for (int k = 0; k < s->report_sbatch.n; k++) argv[na++] = s->report_sbatch.v[k];
    } else {
        for (int k = 0; k < s->sbatch.n; k++) argv[na++] = s->sbatch.v[k];
        argv[na++] = "--ntasks=1";
        argv[na++] = "--time=01:00:00";
    }
    argv[na++] = wrap;
    argv[na] = NULL;
    free(cmd);
    cmd = shell_join(argv);
    if (!cmd) {
        rc = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto free_args;
    }
    if (dry_run) {
        /* the array's id comes from the line above: $array unquoted, so that the lines can be pasted */
        char *q = strstr(cmd, "'--dependency=afterany:");
        if (q) {
            char *e = strchr(q + 1, '\'');
            if (e) memmove(e, e + 1, strlen(e + 1) + 1);
            memmove(q, q + 1, strlen(q + 1) + 1);
        }
        fprintf(f, "  %s\n", cmd);
    } else {
        int ec = run_capture(argv, &out, err);
        if (ec < 0) {
            rc = err->code;
            goto free_args;
        }
        if (ec != 0 || !parse_job_id(out, report_id, sizeof report_id)) {
            rc = quipu_error_set(err, QUIPU_ERR_IO, "sbatch refused the report job (exit %d): %s (the array job %s is submitted)", ec,
                                 *last_line(out) ? last_line(out) : "no job id in its output", array_id);
            goto free_args;
        }
        if ((rc = record(s, "report", report_id, dep, err))) goto free_args;
        fprintf(f, "submitted report job %s after %s (quipu sweep status %s shows progress)\n", report_id, dep, s->path);
    }
free_args:
    free(a_array);
    free(a_name);
    free(a_out);
    free(a_list);
    free(a_dep);
    free(a_rname);
    free(a_rout);
done:
    sweep_status_free(st, s->n_runs);
    free(active);
    free(submit);
    free(idx);
    free(argv);
    free(quipu);
    free(wrap);
    free(out);
    free(cmd);
    return rc;
}
