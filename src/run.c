/* run.c — `quipu run`: config → benchmarks → items shared out over ranks → scoring with a
 * per-batch journal → gather on rank 0 → metrics → results (docs/results.md). main() here reads
 * as the order of phases; each phase is a function below. Only comm.c calls MPI. */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "comm.h"
#include "config.h"
#include "data/loaders.h"
#include "journal.h"
#include "metrics.h"
#include "model.h"
#include "plot.h"
#include "scheduler.h"
#include "score.h"

/* ------------------------------------------------------------------ signals */

static volatile sig_atomic_t g_stop_signal = 0;

static void on_stop_signal(int sig) { g_stop_signal = sig; }

/* Ctrl-C: the first says what happens, the second quits at once (only async-signal-safe calls) */
static void on_interrupt(int sig) {
    static const char first[] = "\nquipu: stopping after the current batch (Ctrl-C again to quit now)\n";
    static const char second[] = "\nquipu: quit; the batches already finished are in the journal: rerun with --resume to continue\n";
    if (g_stop_signal == SIGINT) {
        ssize_t w = write(STDERR_FILENO, second, sizeof second - 1);
        (void)w;
        _exit(130);
    }
    g_stop_signal = sig;
    ssize_t w = write(STDERR_FILENO, first, sizeof first - 1);
    (void)w;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes in flight (network file systems) carry on */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
}

/* ------------------------------------------------------------------ units of work */

/* What one item becomes for scoring: a prompt and its continuations (pairs: empty prompt, the
 * two sentences). map[j] is the record index of continuation j. */
typedef struct run_unit {
    quipu_item *item;
    char *prompt;
    int n_cont;
    char *cont[QUIPU_MAX_CHOICES];
    size_t cont_len[QUIPU_MAX_CHOICES];
    int map[QUIPU_MAX_CHOICES];
    int n_record;      /* choices in the record */
    size_t delim_len;  /* bytes of the delimiter each continuation starts with */
    int64_t cost;      /* bytes to score, for load balancing */
    char digest[17];   /* what is scored (prompt, continuations, record map): part of the journal key */
} run_unit;

/* lm-evaluation-harness's multiple-choice tasks (0.4.13), as quipu reproduces them in lm-eval
 * mode: the prompt, and the "unknown" wordings, in lm-eval's order, that replace the item's own
 * unknown answer after the two group answers.
 * - bbq (tasks/bbq/utils.py, UNKNOWN_RESPONSES): 10 wordings, the first at the item's unknown
 *   index, so 12 choices;
 * - esbbq, cabbq (their _common_yaml, doc_to_choice [ans0, ans1, ...]): 9 wordings after ans0 and
 *   ans1 (ans2 is always the unknown answer there), so 11 choices. */
typedef struct lm_eval_task {
    const char *benchmark;
    const char *prompt;            /* fill_template syntax */
    int n_unknown;
    const char *unknown[10];
} lm_eval_task;

static const lm_eval_task lm_eval_tasks[] = {
    {"bbq", "{context}\n\nQ: {question}\nA:", 10,
     {"Unknown", "Cannot answer", "Can't be determined", "Cannot be determined", "Can't answer", "Not known", "Not enough info",
      "Not enough information", "Not answerable", "Undetermined"}},
    {"esbbq", "Contexto: {context}\nPregunta: {question}\nRespuesta:", 9,
     {"No hay suficiente información", "No hay información suficiente", "No lo sé", "No sé", "Falta información",
      "No se puede responder", "No se sabe", "No se puede saber", "No se puede determinar"}},
    {"cabbq", "Context: {context}\nPregunta: {question}\nResposta:", 9,
     {"No hi ha prou informació", "No hi ha informació suficient", "No ho sé", "No sé", "Falta informació",
      "No es pot respondre", "No se sap", "No es pot saber", "No es pot determinar"}},
};

/* The lm-eval task of a built-in multiple-choice benchmark (config.c refuses lm-eval mode for
 * the others). */
static const lm_eval_task *lm_eval_task_of(const char *name) {
    if (!strcmp(name, "bbq_full")) name = "bbq";
    for (size_t i = 0; i < sizeof lm_eval_tasks / sizeof *lm_eval_tasks; i++)
        if (!strcmp(lm_eval_tasks[i].benchmark, name)) return &lm_eval_tasks[i];
    return NULL;
}


/* Fills {context} and {question} into a prompt template ("{{" / "}}" are literal braces). */
static char *fill_template(const char *tpl, const char *context, const char *question) {
    size_t cap = strlen(tpl) + strlen(context) + strlen(question) + 1, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "{{", 2)) { out[n++] = '{'; p += 2; }
        else if (!strncmp(p, "}}", 2)) { out[n++] = '}'; p += 2; }
        else if (!strncmp(p, "{context}", 9)) { memcpy(out + n, context, strlen(context)); n += strlen(context); p += 9; }
        else if (!strncmp(p, "{question}", 10)) { memcpy(out + n, question, strlen(question)); n += strlen(question); p += 10; }
        else out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

static char *rstrip_dup(const char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return strndup(s, n);
}

/* The digest of exactly what a unit scores: its prompt, each continuation with the record
 * index it fills, and the record's size, each length-prefixed. Two config entries of the same
 * benchmark with another template, prompt or choices get other journal keys. */
static quipu_status unit_digest(run_unit *u, quipu_error *err) {
    size_t cap = 64 + strlen(u->prompt), n = 0;
    for (int c = 0; c < u->n_cont; c++) cap += 16 + u->cont_len[c];
    char *buf = malloc(cap);
    if (!buf) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    n += (size_t)sprintf(buf + n, "%zu:", strlen(u->prompt));
    memcpy(buf + n, u->prompt, strlen(u->prompt));
    n += strlen(u->prompt);
    n += (size_t)sprintf(buf + n, "|%d|%d", u->n_record, u->n_cont);
    for (int c = 0; c < u->n_cont; c++) {
        n += (size_t)sprintf(buf + n, "|%d:%zu:", u->map[c], u->cont_len[c]);
        memcpy(buf + n, u->cont[c], u->cont_len[c]);
        n += u->cont_len[c];
    }
    uint8_t d[32];
    quipu_config_sha256(buf, n, d);
    free(buf);
    for (int i = 0; i < 8; i++) sprintf(u->digest + 2 * i, "%02x", d[i]);
    return QUIPU_OK;
}

/* Builds the prompt and continuations of an item under its benchmark's template. */
static quipu_status build_unit(run_unit *u, quipu_item *it, const quipu_config_benchmark *cb, quipu_error *err) {
    memset(u, 0, sizeof *u);
    u->item = it;
    if (it->kind == QUIPU_ITEM_PAIR) {
        u->prompt = strdup("");
        u->n_cont = u->n_record = 2;
        u->cont[0] = strdup(it->more ? it->more : "");
        u->cont[1] = strdup(it->less ? it->less : "");
        u->map[0] = 0;
        u->map[1] = 1;
    } else {
        const char *q = it->question ? it->question : "";
        const lm_eval_task *lt = cb->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL ? lm_eval_task_of(cb->name) : NULL;
        if (cb->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL && !lt)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "lm-evaluation-harness has no task for '%s'", cb->name);
        /* lm-eval mode keeps the context as it is, as lm-eval does */
        char *ctx = lt ? strdup(it->context ? it->context : "") : rstrip_dup(it->context ? it->context : "");
        const char *delim;
        if (cb->prompt) {
            u->prompt = fill_template(cb->prompt, ctx, q);
            delim = cb->delimiter ? cb->delimiter : " ";
        } else if (lt) {
            u->prompt = fill_template(lt->prompt, ctx, q);
            delim = cb->delimiter ? cb->delimiter : " ";
        } else if (*q) {
            /* the BBQ paper's layout, for every BBQ-style benchmark and language */
            u->prompt = quipu_asprintf("%s\n\nQ: %s\nA:", ctx, q);
            delim = cb->delimiter ? cb->delimiter : " ";
        } else {
            /* StereoSet: intrasentence contexts end where the blank was (a trailing space moves to
             * the continuation, as lm-eval does); intersentence choices follow a space */
            const char *raw = it->context ? it->context : "";
            size_t rl = strlen(raw);
            int ends_space = rl > 0 && (raw[rl - 1] == ' ');
            u->prompt = strdup(raw);
            delim = cb->delimiter ? cb->delimiter : (ends_space ? "" : " ");
        }
        free(ctx);
        u->delim_len = strlen(delim);
        if (lt && it->unknown_choice >= 0 && it->n_choices == 3 && lt->n_unknown == 10) {
            /* bbq, 12 choices: the two group answers (original indices), then the 10 wordings: the
             * first at the item's unknown index, the others at 3..11 (metrics read any index
             * >= 3 that is neither group answer as "unknown") */
            int k = 0;
            for (int c = 0; c < 3; c++)
                if (c != it->unknown_choice) {
                    u->cont[k] = quipu_asprintf("%s%s", delim, it->choices[c]);
                    u->map[k++] = c;
                }
            for (int w = 0; w < lt->n_unknown; w++) {
                u->cont[k] = quipu_asprintf("%s%s", delim, lt->unknown[w]);
                u->map[k++] = w == 0 ? it->unknown_choice : 2 + w;
            }
            u->n_cont = u->n_record = k;
        } else if (lt && it->n_choices == 3 && it->unknown_choice == 2) {
            /* esbbq, cabbq, 11 choices: ans0, ans1, then the wordings, the first in ans2's place */
            int k = 0;
            for (int c = 0; c < 2; c++) {
                u->cont[k] = quipu_asprintf("%s%s", delim, it->choices[c]);
                u->map[k++] = c;
            }
            for (int w = 0; w < lt->n_unknown; w++) {
                u->cont[k] = quipu_asprintf("%s%s", delim, lt->unknown[w]);
                u->map[k++] = 2 + w;
            }
            u->n_cont = u->n_record = k;
        } else if (lt) {
            return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: item '%s' does not have the three answers (the unknown one last for %s) "
                                   "that lm-eval mode needs", cb->where, it->id, cb->name);
        } else {
            u->n_cont = u->n_record = it->n_choices;
            for (int c = 0; c < it->n_choices; c++) {
                u->cont[c] = quipu_asprintf("%s%s", delim, it->choices[c]);
                u->map[c] = c;
            }
        }
    }
    if (!u->prompt) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    u->cost = (int64_t)strlen(u->prompt);
    for (int c = 0; c < u->n_cont; c++) {
        if (!u->cont[c]) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        u->cont_len[c] = strlen(u->cont[c]);
        u->cost += (int64_t)u->cont_len[c];
    }
    return unit_digest(u, err);
}

static void unit_free(run_unit *u) {
    free(u->prompt);
    for (int c = 0; c < u->n_cont; c++) free(u->cont[c]);
}

/* ------------------------------------------------------------------ run state */

typedef struct run_state {
    quipu_comm comm;
    quipu_config *cfg;
    char hash[65];
    char **labels;            /* per config benchmark */
    char **model_keys;        /* per model: "name|fingerprint|backend/dtype/max_length", the journal key's start */
    quipu_load_report *reports;
    size_t *bench_first, *bench_count;
    quipu_item *items;        /* all benchmarks, concatenated */
    size_t n_items;
    run_unit *units;
    /* per model: records of every item (rank 0 after the gather), done flags */
    quipu_item_record **records;
    uint8_t **have;
    int64_t resumed, scored, tokens_processed;
    /* this rank's new records, serialised for the gather: [u32 key length][key][record] */
    char *local;
    size_t local_len, local_cap;
    double t_start, t_load, t_score, t_gather, t_metrics, t_write;
    char *started;
    /* progress of the model being scored; rank 0 holds every rank's latest count */
    struct {
        int model;
        int64_t total;            /* items to score for this model, all ranks together */
        int64_t work_total;       /* their bytes of text: the ETA follows the work left, not items */
        int64_t *done;            /* per rank */
        int64_t *work, *tokens;   /* per rank: bytes and tokens scored so far */
        int64_t my_work;          /* this rank's bytes scored so far */
        int tty;                  /* rank 0's stderr is a terminal (and not a Slurm log): a bar */
        uint8_t *final;           /* per rank: its last message for this model has come */
        double t0, last;
    } pg;
    /* per rank (rank 0, from the final progress messages), summed over models */
    int64_t *rank_items, *rank_tokens;
    double *rank_load, *rank_score;
} run_state;

static int leader(const run_state *s) { return s->comm.rank == 0; }

static const char *backend_name(quipu_cfg_backend b) {
    return b == QUIPU_CFG_BACKEND_CPU ? "cpu" : b == QUIPU_CFG_BACKEND_CUDA ? "cuda" : "hip";
}


/* Messages from every rank must agree: returns the worst status; rank 0 prints its message. */
static quipu_status agree(run_state *s, quipu_status mine, quipu_error *err) {
    quipu_error tmp = {0};
    quipu_status all = quipu_comm_agree(&s->comm, mine, &tmp);
    if (all != QUIPU_OK && mine == QUIPU_OK)
        quipu_error_set(err, all, "another rank failed (see its message above)");
    if (all != QUIPU_OK && mine != QUIPU_OK && !leader(s)) quipu_log(QUIPU_LOG_ERROR, "%s", err->msg);
    return all;
}

/* ------------------------------------------------------------------ phase: benchmarks */

static int strlist_has_ci(const quipu_strlist *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i], s ? s : "")) return 1;
    return 0;
}

static quipu_status load_benchmarks(run_state *s, quipu_error *err) {
    quipu_config *cfg = s->cfg;
    int nb = cfg->n_benchmarks;
    s->reports = calloc((size_t)nb, sizeof *s->reports);
    s->bench_first = calloc((size_t)nb, sizeof(size_t));
    s->bench_count = calloc((size_t)nb, sizeof(size_t));
    s->labels = calloc((size_t)nb, sizeof(char *));
    if (!s->reports || !s->bench_first || !s->bench_count || !s->labels) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (int b = 0; b < nb; b++) {
        const quipu_config_benchmark *cb = &cfg->benchmarks[b];
        s->labels[b] = strdup(cb->label ? cb->label : cb->name);
        quipu_load_opts lo = {.on_bad_row = cb->on_bad_row == QUIPU_CFG_BAD_ROW_SKIP ? QUIPU_BAD_ROW_SKIP : QUIPU_BAD_ROW_FAIL,
                              .path = cb->path, .label = s->labels[b]};
        quipu_item *its = NULL;
        size_t n = 0;
        quipu_status st;
        if (cb->format == QUIPU_CFG_FORMAT_PAIRS || cb->format == QUIPU_CFG_FORMAT_MC)
            st = quipu_load_jsonl(cb->path, cb->format == QUIPU_CFG_FORMAT_PAIRS ? QUIPU_ITEM_PAIR : QUIPU_ITEM_MC, &lo, &its, &n,
                                  &s->reports[b], err);
        else
            st = quipu_load_benchmark(cb->name, cb->path ? cb->path : cfg->datasets_dir, &lo, &its, &n, &s->reports[b], err);
        if (st) return st;
        /* filters: categories, languages, cultures */
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            quipu_item *it = &its[i];
            int keep = 1;
            if (cb->categories.n && !strlist_has_ci(&cb->categories, it->category)) keep = 0;
            if (keep && cb->cultures.n && !strlist_has_ci(&cb->cultures, it->culture)) keep = 0;
            if (keep && cb->languages.n) {
                int any = 0;
                for (int l = 0; l < cb->languages.n; l++) any |= quipu_config_language_matches(cb->languages.v[l], it->language);
                keep = any;
            }
            if (keep) {
                if (w != i) its[w] = its[i];
                w++;
            } else {
                quipu_item_free(it);
            }
        }
        n = w;
        /* limit: first N, evenly spread, or a seeded sample (kept in file order) */
        if (cb->limit > 0 && (size_t)cb->limit < n) {
            size_t k = (size_t)cb->limit;
            uint8_t *pick = calloc(n, 1);
            if (!pick) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            if (cb->sample == QUIPU_CFG_SAMPLE_FIRST) {
                for (size_t i = 0; i < k; i++) pick[i] = 1;
            } else if (cb->sample == QUIPU_CFG_SAMPLE_SPREAD) {
                for (size_t i = 0; i < k; i++) pick[(size_t)(((unsigned __int128)i * n) / k)] = 1;
            } else {
                quipu_rng rng;
                quipu_rng_seed(&rng, cfg->seed ^ 0x9e3779b97f4a7c15ULL ^ (uint64_t)b);
                size_t *idx = malloc(n * sizeof *idx);
                if (!idx) { free(pick); return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); }
                for (size_t i = 0; i < n; i++) idx[i] = i;
                for (size_t i = 0; i < k; i++) {
                    size_t j = i + (size_t)quipu_rng_below(&rng, (uint64_t)(n - i));
                    size_t t = idx[i]; idx[i] = idx[j]; idx[j] = t;
                    pick[idx[i]] = 1;
                }
                free(idx);
            }
            w = 0;
            for (size_t i = 0; i < n; i++) {
                if (pick[i]) { if (w != i) its[w] = its[i]; w++; }
                else quipu_item_free(&its[i]);
            }
            n = w;
            free(pick);
        }
        if (n == 0) {
            free(its);
            return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: benchmark '%s' has no items after its filters", cb->where, s->labels[b]);
        }
        if (s->reports[b].rows_skipped && leader(s)) {
            const quipu_load_report *r = &s->reports[b];
            quipu_log(QUIPU_LOG_WARN, "benchmark %s: %zu malformed row%s skipped (on_bad_row: skip), listed in summary.md; first: %s",
                      s->labels[b], r->rows_skipped, r->rows_skipped == 1 ? "" : "s", r->n_reasons ? r->reasons[0] : "?");
        }
        /* the label names the benchmark in results */
        for (size_t i = 0; i < n; i++)
            if (strcmp(its[i].benchmark, s->labels[b])) {
                free(its[i].benchmark);
                its[i].benchmark = strdup(s->labels[b]);
            }
        quipu_item *all = realloc(s->items, (s->n_items + n) * sizeof *all);
        if (!all) { quipu_items_free(its, n); return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); }
        s->items = all;
        memcpy(s->items + s->n_items, its, n * sizeof *its);
        free(its);
        s->bench_first[b] = s->n_items;
        s->bench_count[b] = n;
        s->n_items += n;
    }
    if (quipu_metrics_check_items(s->items, s->n_items, err)) return err->code;
    s->units = calloc(s->n_items, sizeof *s->units);
    if (!s->units) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (int b = 0; b < nb; b++)
        for (size_t i = s->bench_first[b]; i < s->bench_first[b] + s->bench_count[b]; i++)
            if (build_unit(&s->units[i], &s->items[i], &cfg->benchmarks[b], err)) return err->code;
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ phase: scoring */

/* A journal key names everything that changes an item's scores: the model (name, fingerprint of
 * its files, backend, dtype, max_length), the config entry's label, the item and the digest of
 * the text scored. Whatever else a config changes, a record whose key it still makes is reused
 * (--resume): adding a model or a benchmark scores only the new units. */
static char *unit_key(const char *model_key, const run_unit *u) {
    return quipu_asprintf("%s|%s|%s|%s", model_key, u->item->benchmark, u->item->id, u->digest);
}

/* A fingerprint of the model's files that does not read them whole: for the file (or each file of
 * the checkpoint folder, in name order) its name, size and sha256 of its first and last MiB. */
static quipu_status model_fingerprint(const char *path, char out[17], quipu_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    if (S_ISDIR(st.st_mode)) {
        struct dirent **list = NULL;
        int k = scandir(path, &list, NULL, alphasort);
        if (k < 0) return quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", path, strerror(errno));
        names = calloc((size_t)k + 1, sizeof *names);
        for (int i = 0; i < k; i++) {
            if (names && list[i]->d_name[0] != '.') names[n++] = quipu_asprintf("%s/%s", path, list[i]->d_name);
            free(list[i]);
        }
        free(list);
        if (!names) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    } else {
        names = calloc(1, sizeof *names);
        if (!names) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        names[n++] = strdup(path);
    }
    enum { PART = 1 << 20 };
    size_t cap = 64 + 2 * (size_t)PART, len = 0;
    char *acc = malloc(cap);
    uint8_t d[32], all[32] = {0};
    quipu_status rc = acc ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat fs;
        if (!names[i] || stat(names[i], &fs) != 0 || !S_ISREG(fs.st_mode)) continue;
        FILE *f = fopen(names[i], "rb");
        if (!f) { rc = quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", names[i], strerror(errno)); break; }
        const char *base = strrchr(names[i], '/') ? strrchr(names[i], '/') + 1 : names[i];
        len = (size_t)snprintf(acc, 64, "%.40s:%lld:", base, (long long)fs.st_size);
        len += fread(acc + len, 1, PART, f);
        if (fs.st_size > 2 * PART && fseeko(f, fs.st_size - PART, SEEK_SET) == 0) len += fread(acc + len, 1, PART, f);
        fclose(f);
        quipu_config_sha256(acc, len, d);
        /* chain the files' digests in order */
        memcpy(acc, all, 32);
        memcpy(acc + 32, d, 32);
        quipu_config_sha256(acc, 64, all);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(acc);
    if (rc) return rc;
    for (int i = 0; i < 8; i++) sprintf(out + 2 * i, "%02x", all[i]);
    return QUIPU_OK;
}

/* Every model's header, tensor table and tokenizer are checked, and its journal key made, before
 * anything is scored: a bad second model is found before the first one's hours of work. */
static quipu_status precheck_models(run_state *s, quipu_error *err) {
    int nm = s->cfg->n_models;
    s->model_keys = calloc((size_t)nm, sizeof *s->model_keys);
    if (!s->model_keys) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    FILE *sink = fopen("/dev/null", "w");
    for (int mi = 0; mi < nm; mi++) {
        const quipu_config_model *cm = &s->cfg->models[mi];
        quipu_error e = {0};
        quipu_tokenizer *tok = NULL;
        if ((sink && quipu_model_describe(cm->path, sink, &e)) || quipu_tokenizer_load_path(&tok, cm->path, &e)) {
            if (sink) fclose(sink);
            return quipu_error_set(err, e.code ? e.code : QUIPU_ERR_FORMAT, "model %s: %s", cm->name, e.msg);
        }
        quipu_tokenizer_free(tok);
        char fp[17];
        if (model_fingerprint(cm->path, fp, &e)) {
            if (sink) fclose(sink);
            return quipu_error_set(err, e.code, "model %s: %s", cm->name, e.msg);
        }
        const char *bname = backend_name(cm->backend);
        s->model_keys[mi] = quipu_asprintf("%s|%s|%s/%s/%lld", cm->name, fp, bname,
                                           quipu_backend_dtype(bname, quipu_cfg_dtype_name(cm->dtype)), (long long)cm->max_length);
        if (!s->model_keys[mi]) {
            if (sink) fclose(sink);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        }
    }
    if (sink) fclose(sink);
    return QUIPU_OK;
}

/* The journal's records of this config, as a map key -> record, sorted by key. */
typedef struct done_set {
    quipu_journal_entry *e;
    size_t n;
} done_set;

static int cmp_entry_key(const void *k, const void *e) { return strcmp((const char *)k, ((const quipu_journal_entry *)e)->id); }

static int cmp_entry_id(const void *a, const void *b) {
    return strcmp(((const quipu_journal_entry *)a)->id, ((const quipu_journal_entry *)b)->id);
}

static const quipu_journal_entry *done_find(const done_set *d, const char *key) {
    return d->n ? bsearch(key, d->e, d->n, sizeof *d->e, cmp_entry_key) : NULL;
}

/* Progress: ranks > 0 post [model, items done, final, tokens, load µs, score µs, bytes done,
 * tokens so far] after every batch without waiting (comm.h); rank 0 sums the latest counts
 * between its own batches and shows items done / total, tokens per second and the ETA, from the
 * bytes of text left and the measured rate (items differ in length: an item count would not do).
 * On a terminal a bar redrawn in place; in a log (not a terminal, or under Slurm) a line every
 * progress_interval seconds. */
enum { PG_MODEL, PG_DONE, PG_FINAL, PG_TOKENS, PG_LOAD_US, PG_SCORE_US, PG_WORK, PG_TOK_NOW };

static void progress_reset(run_state *s, int mi) {
    s->pg.model = mi;
    s->pg.total = s->pg.work_total = s->pg.my_work = 0;
    for (int r = 0; r < s->comm.size; r++) s->pg.done[r] = s->pg.work[r] = s->pg.tokens[r] = 0, s->pg.final[r] = 0;
    s->pg.t0 = s->pg.last = quipu_time_now();
}

static void progress_take(void *ctx, int rank, const int64_t *v) {
    run_state *s = ctx;
    if (rank < 0 || rank >= s->comm.size || v[PG_MODEL] != s->pg.model) return;
    s->pg.done[rank] = v[PG_DONE];
    s->pg.work[rank] = v[PG_WORK];
    s->pg.tokens[rank] = v[PG_TOK_NOW];
    if (!v[PG_FINAL]) return;
    s->pg.final[rank] = 1;
    s->rank_items[rank] += v[PG_DONE];
    s->rank_tokens[rank] += v[PG_TOKENS];
    s->rank_load[rank] += (double)v[PG_LOAD_US] * 1e-6;
    s->rank_score[rank] += (double)v[PG_SCORE_US] * 1e-6;
}

static void progress_print(run_state *s, int final) {
    double now = quipu_time_now();
    double every = s->pg.tty ? 0.25 : s->cfg->progress_interval;
    if (!leader(s) || (!final && (s->cfg->progress_interval <= 0 || now - s->pg.last < every))) return;
    s->pg.last = now;
    int64_t done = 0, work = 0, tokens = 0;
    for (int r = 0; r < s->comm.size; r++) done += s->pg.done[r], work += s->pg.work[r], tokens += s->pg.tokens[r];
    double dt = now - s->pg.t0 > 1e-9 ? now - s->pg.t0 : 1e-9, rate = (double)done / dt, tok_rate = (double)tokens / dt;
    const char *name = s->cfg->models[s->pg.model].name;
    if (final) {
        if (s->pg.tty) fputc('\n', stderr);
        quipu_log(QUIPU_LOG_INFO, "model %s: %lld item%s scored in %.1f s, %.1f items/s, %.0f tokens/s", name, (long long)done,
                  done == 1 ? "" : "s", dt, rate, tok_rate);
        return;
    }
    char eta[32] = "ETA --";
    if (work > 0 && s->pg.work_total > work) {
        double left = (double)(s->pg.work_total - work) / ((double)work / dt);
        if (left < 120) snprintf(eta, sizeof eta, "ETA %.0f s", left);
        else if (left < 7200) snprintf(eta, sizeof eta, "ETA %.0f min", left / 60);
        else snprintf(eta, sizeof eta, "ETA %.1f h", left / 3600);
    }
    double frac = s->pg.work_total > 0 ? (double)work / (double)s->pg.work_total : 0;
    if (s->pg.tty) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %s: %lld/%lld items, %.0f tok/s, %s   ", bar, name, (long long)done, (long long)s->pg.total, tok_rate, eta);
        fflush(stderr);
    } else {
        quipu_log(QUIPU_LOG_INFO, "progress: model %s: %lld / %lld items (%.0f%% of the text), %.0f tokens/s, %s", name, (long long)done,
                  (long long)s->pg.total, 100 * frac, tok_rate, eta);
    }
}

/* After each batch: rank 0 takes what has come and maybe prints; others post their count. */
static void progress_step(run_state *s, int64_t done, int64_t work, int64_t tokens) {
    quipu_error e = {0};
    s->pg.my_work = work;
    if (leader(s)) {
        s->pg.done[0] = done;
        s->pg.work[0] = work;
        s->pg.tokens[0] = tokens;
        quipu_comm_progress_poll(&s->comm, progress_take, s, &e);
        progress_print(s, 0);
    } else {
        int64_t v[QUIPU_PROGRESS_LEN] = {[PG_MODEL] = s->pg.model, [PG_DONE] = done, [PG_WORK] = work, [PG_TOK_NOW] = tokens};
        quipu_comm_progress_post(&s->comm, v, 0, &e);
    }
}

/* End of a model on this rank, whatever happened: the final message; rank 0 waits for every
 * rank's, sleeping between polls so that ranks sharing its cores keep them. */
static quipu_status progress_end(run_state *s, int failed, int64_t done, int64_t tokens, double load_s, double score_s, quipu_error *err) {
    int64_t v[QUIPU_PROGRESS_LEN] = {[PG_MODEL] = s->pg.model, [PG_DONE] = done, [PG_FINAL] = 1, [PG_TOKENS] = tokens,
                                     [PG_LOAD_US] = (int64_t)(load_s * 1e6), [PG_SCORE_US] = (int64_t)(score_s * 1e6),
                                     [PG_WORK] = s->pg.my_work, [PG_TOK_NOW] = tokens};
    if (!leader(s)) return quipu_comm_progress_post(&s->comm, v, 1, err);
    progress_take(s, 0, v);
    for (;;) {
        if (quipu_comm_progress_poll(&s->comm, progress_take, s, err)) return err->code;
        int all = 1;
        for (int r = 0; r < s->comm.size; r++) all &= s->pg.final[r];
        if (all) break;
        progress_print(s, 0);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!failed && !g_stop_signal) progress_print(s, 1);
    return QUIPU_OK;
}

static quipu_status local_add(run_state *s, const char *key, const quipu_item_record *rec, quipu_error *err) {
    uint32_t kl = (uint32_t)strlen(key);
    size_t need = s->local_len + 4 + kl + sizeof *rec;
    if (need > s->local_cap) {
        size_t nc = s->local_cap ? s->local_cap * 2 : 1 << 16;
        while (nc < need) nc *= 2;
        char *nb = realloc(s->local, nc);
        if (!nb) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        s->local = nb;
        s->local_cap = nc;
    }
    memcpy(s->local + s->local_len, &kl, 4);
    memcpy(s->local + s->local_len + 4, key, kl);
    memcpy(s->local + s->local_len + 4 + kl, rec, sizeof *rec);
    s->local_len = need;
    return QUIPU_OK;
}

static quipu_status score_model(run_state *s, int mi, const done_set *done, quipu_journal *jr, quipu_error *err) {
    const quipu_config_model *cm = &s->cfg->models[mi];
    size_t n = s->n_items;
    char **keys = calloc(n ? n : 1, sizeof *keys);
    int32_t *owner = calloc(n ? n : 1, sizeof *owner);
    size_t *todo = calloc(n ? n : 1, sizeof *todo), *mine = calloc(n ? n : 1, sizeof *mine);
    const char **todo_keys = calloc(n ? n : 1, sizeof *todo_keys);
    int64_t *todo_cost = calloc(n ? n : 1, sizeof *todo_cost);
    quipu_backend *b = NULL;
    quipu_model *m = NULL;
    quipu_status st = QUIPU_OK;
    size_t n_todo = 0, n_mine = 0;
    int64_t n_done = 0, work_done = 0, tokens0 = s->tokens_processed;
    double load_s = 0, score_s = 0;
    progress_reset(s, mi);
    if (!keys || !owner || !todo || !mine || !todo_keys || !todo_cost) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = unit_key(s->model_keys[mi], &s->units[i]);
        if (!keys[i]) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
        if (done_find(done, keys[i])) continue;
        todo[n_todo] = i;
        todo_keys[n_todo] = keys[i];
        todo_cost[n_todo] = s->units[i].cost;
        n_todo++;
    }
    s->pg.total = (int64_t)n_todo;
    for (size_t k = 0; k < n_todo; k++) s->pg.work_total += todo_cost[k];
    if (s->cfg->distribution.sharding == QUIPU_CFG_SHARD_ROUND_ROBIN) {
        for (size_t k = 0; k < n_todo; k++) owner[k] = (int32_t)(k % (size_t)s->comm.size);
    } else if ((st = quipu_assign_ranks(todo_cost, todo_keys, n_todo, s->comm.size, owner, err))) {
        goto done;
    }
    for (size_t k = 0; k < n_todo; k++)
        if (owner[k] == s->comm.rank) mine[n_mine++] = todo[k];
    if (leader(s))
        quipu_log(QUIPU_LOG_INFO, "model %s: %zu item%s to score (%zu on rank 0), %zu from the journal", cm->name, n_todo,
                  n_todo == 1 ? "" : "s", n_mine, n - n_todo);
    if (n_mine == 0 || g_stop_signal) goto done; /* nothing to do, or asked to stop: no model load */
    double t0 = quipu_time_now();
    const char *bname = backend_name(cm->backend);
    if ((st = quipu_backend_init(&b, bname, (int)s->cfg->scoring.threads, err))) goto done;
    if ((st = quipu_model_load(&m, cm->path, b, err))) goto done;
    load_s = quipu_time_now() - t0;
    t0 = quipu_time_now();
    s->pg.t0 = s->pg.last = t0;
    quipu_scorer_opts so = {.batch_tokens = s->cfg->scoring.batch_tokens, .max_length = cm->max_length,
                            .no_prefix_sharing = !s->cfg->scoring.prefix_sharing, .tokens_processed = &s->tokens_processed};
    /* chunks of about one batch of tokens: each is scored, journaled and synced before the next */
    int64_t chunk_bytes = s->cfg->scoring.batch_tokens * 3;
    quipu_score_group *groups = calloc(n_mine, sizeof *groups);
    quipu_score_result *res = NULL;
    if (!groups) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
    for (size_t k0 = 0; k0 < n_mine && !g_stop_signal;) {
        size_t k1 = k0, n_res = 0;
        int64_t bytes = 0;
        while (k1 < n_mine && (k1 == k0 || bytes + s->units[mine[k1]].cost <= chunk_bytes)) {
            run_unit *u = &s->units[mine[k1]];
            groups[k1 - k0] = (quipu_score_group){u->prompt, strlen(u->prompt), u->n_cont, (const char *const *)u->cont, u->cont_len};
            bytes += u->cost;
            n_res += (size_t)u->n_cont;
            k1++;
        }
        res = calloc(n_res, sizeof *res);
        if (!res) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); break; }
        if ((st = quipu_score_groups(m, &so, groups, k1 - k0, res, err))) { free(res); res = NULL; break; }
        size_t r = 0;
        for (size_t k = k0; k < k1; k++) {
            run_unit *u = &s->units[mine[k]];
            quipu_item_record rec;
            memset(&rec, 0, sizeof rec);
            rec.n_choices = u->n_record;
            for (int c = 0; c < u->n_cont; c++, r++) {
                int j = u->map[c];
                rec.logprob[j] = res[r].logprob;
                rec.n_tokens[j] = res[r].n_tokens;
                rec.is_greedy[j] = (uint8_t)res[r].is_greedy;
                quipu_score_result_free(&res[r]);
            }
            /* bytes of the choice text itself, without the delimiter (lm-eval's acc_bytes) */
            for (int c = 0; c < u->n_cont; c++) rec.n_bytes[u->map[c]] = (int32_t)(u->cont_len[c] - u->delim_len);
            if ((st = quipu_journal_add(jr, keys[mine[k]], &rec, err))) break;
            if ((st = local_add(s, keys[mine[k]], &rec, err))) break;
        }
        free(res);
        res = NULL;
        if (st || (st = quipu_journal_sync(jr, err))) break;
        s->scored += (int64_t)(k1 - k0);
        n_done += (int64_t)(k1 - k0);
        work_done += bytes;
        progress_step(s, n_done, work_done, s->tokens_processed - tokens0);
        k0 = k1;
        if (g_stop_signal) break;
    }
    free(groups);
    score_s = quipu_time_now() - t0;
done:
    s->t_load += load_s;
    s->t_score += score_s;
    {
        quipu_error e2 = {0};
        quipu_status pst = progress_end(s, st != QUIPU_OK, n_done, s->tokens_processed - tokens0, load_s, score_s, &e2);
        if (pst && !st) st = quipu_error_set(err, pst, "%s", e2.msg);
    }
    quipu_model_free(m);
    quipu_backend_free(b);
    for (size_t i = 0; i < n && keys; i++) free(keys[i]);
    free(keys);
    free(owner);
    free(todo);
    free(mine);
    free(todo_keys);
    free(todo_cost);
    return st;
}

/* ------------------------------------------------------------------ phase: gather */

/* Rank 0 ends with records[m][i] for every model m and item i: from this run's ranks (gathered)
 * or from the journal of earlier attempts. */
static quipu_status gather_records(run_state *s, const done_set *done, quipu_error *err) {
    void *all = NULL;
    size_t len = 0;
    double t0 = quipu_time_now();
    if (quipu_comm_gatherv(&s->comm, s->local, s->local_len, &all, &len, NULL, err)) return err->code;
    if (!leader(s)) {
        s->t_gather = quipu_time_now() - t0;
        return QUIPU_OK;
    }
    int nm = s->cfg->n_models;
    size_t n = s->n_items;
    s->records = calloc((size_t)nm, sizeof *s->records);
    s->have = calloc((size_t)nm, sizeof *s->have);
    quipu_journal_entry *got = NULL;
    size_t n_got = 0, cap = 0;
    quipu_status st = QUIPU_OK;
    if (!s->records || !s->have) { free(all); return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); }
    /* parse the gathered records into (key, record) entries sorted by key */
    for (size_t off = 0; off < len;) {
        uint32_t kl;
        if (len - off < 4) { st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "gathered records are truncated"); break; }
        memcpy(&kl, (char *)all + off, 4);
        if (len - off - 4 < (size_t)kl + sizeof(quipu_item_record)) { st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "gathered records are truncated"); break; }
        if (n_got == cap) {
            cap = cap ? cap * 2 : 1024;
            quipu_journal_entry *ng = realloc(got, cap * sizeof *got);
            if (!ng) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); break; }
            got = ng;
        }
        got[n_got].id = strndup((char *)all + off + 4, kl);
        memcpy(&got[n_got].rec, (char *)all + off + 4 + kl, sizeof(quipu_item_record));
        n_got++;
        off += 4 + kl + sizeof(quipu_item_record);
    }
    free(all);
    if (!st && n_got > 1) qsort(got, n_got, sizeof *got, cmp_entry_id);
    done_set fresh = {got, n_got};
    for (int mi = 0; mi < nm && !st; mi++) {
        s->records[mi] = calloc(n ? n : 1, sizeof(quipu_item_record));
        s->have[mi] = calloc(n ? n : 1, 1);
        if (!s->records[mi] || !s->have[mi]) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); break; }
        for (size_t i = 0; i < n; i++) {
            char *key = unit_key(s->model_keys[mi], &s->units[i]);
            const quipu_journal_entry *e = done_find(&fresh, key);
            if (!e) {
                e = done_find(done, key);
                if (e) s->resumed++;
            }
            free(key);
            if (!e) continue;
            if (e->rec.n_choices != s->units[i].n_record) {
                st = quipu_error_set(err, QUIPU_ERR_FORMAT, "journal record for item '%s' has %d choices, expected %d (was the benchmark changed?)",
                                     s->items[i].id, e->rec.n_choices, s->units[i].n_record);
                break;
            }
            s->records[mi][i] = e->rec;
            s->records[mi][i].item_index = (int64_t)i;
            s->have[mi][i] = 1;
        }
    }
    quipu_journal_entries_free(got, n_got);
    s->t_gather = quipu_time_now() - t0;
    return st;
}

/* ------------------------------------------------------------------ phase: results */

static quipu_status write_file(const char *dir, const char *name, const void *data, size_t len, quipu_error *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int bad = w != len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) { bad = 1; e = errno; }
    if (bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        unlink(tmp);
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return QUIPU_OK;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->p && (size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)k + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

static void sb_json_str(sbuf *b, const char *s) {
    json_t *j = json_string(s ? s : "");
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    sb_printf(b, "%s", t ? t : "\"\"");
    free(t);
    json_decref(j);
}

static const char *cond_name(quipu_condition c) { return c == QUIPU_COND_AMBIG ? "ambig" : c == QUIPU_COND_DISAMBIG ? "disambig" : ""; }
static const char *pol_name(quipu_polarity p) { return p == QUIPU_POL_NEG ? "neg" : p == QUIPU_POL_NONNEG ? "nonneg" : ""; }

static int metric_wanted(const quipu_config *cfg, const char *metric) {
    if (cfg->metrics.all) return 1;
    for (int i = 0; i < cfg->metrics.names.n; i++)
        if (!strcmp(cfg->metrics.names.v[i], metric)) return 1;
    return 0;
}

/* items sorted for output: by benchmark (config order), then id bytewise */
static run_state *g_sort_state;
static int cmp_item_out(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const quipu_item *x = &g_sort_state->items[i], *y = &g_sort_state->items[j];
    size_t bi = 0, bj = 0;
    for (int k = 0; k < g_sort_state->cfg->n_benchmarks; k++) {
        if (i >= g_sort_state->bench_first[k] && i < g_sort_state->bench_first[k] + g_sort_state->bench_count[k]) bi = (size_t)k;
        if (j >= g_sort_state->bench_first[k] && j < g_sort_state->bench_first[k] + g_sort_state->bench_count[k]) bj = (size_t)k;
    }
    if (bi != bj) return bi < bj ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* "value | CI | n |" cells of a metric row, "–" where undefined. */
static void sb_value_cells(sbuf *b, const quipu_metric_result *x) {
    if (isnan(x->value)) sb_printf(b, "– | – | %lld |\n", (long long)x->n);
    else if (isnan(x->ci_low)) sb_printf(b, "%.3f | – | %lld |\n", x->value, (long long)x->n);
    else sb_printf(b, "%.3f | [%.3f, %.3f] | %lld |\n", x->value, x->ci_low, x->ci_high, (long long)x->n);
}

static quipu_status write_results(run_state *s, quipu_error *err) {
    quipu_config *cfg = s->cfg;
    const char *dir = cfg->output;
    double t0 = quipu_time_now();
    quipu_status st = QUIPU_OK;
    size_t n = s->n_items;
    quipu_metrics_options mo;
    quipu_metrics_options_init(&mo);
    mo.norm = cfg->metrics.normalization == QUIPU_CFG_NORM_PER_TOKEN ? QUIPU_NORM_TOKEN
            : cfg->metrics.normalization == QUIPU_CFG_NORM_PER_BYTE  ? QUIPU_NORM_BYTE
                                                                      : QUIPU_NORM_SUM;
    mo.n_boot = (int)cfg->metrics.bootstrap;
    mo.seed = cfg->seed;
    mo.ci_level = cfg->metrics.confidence;
    json_t *summary = json_object(), *jmetrics = json_array(), *jmodels = json_array(), *jbench = json_array();
    sbuf md = {0}, items = {0}, con = {0};
    char *csv_model = NULL;
    const char *con_model = NULL;
    char *csv_text = NULL;
    size_t csv_len = 0;
    FILE *csv = open_memstream(&csv_text, &csv_len);
    quipu_metric_row *plot_rows = NULL;
    size_t n_plot_rows = 0;
    quipu_metric_results *kept = NULL;
    int n_kept = 0;
    if (csv) fputs("model,benchmark,language,culture,category,metric,value,ci_low,ci_high,n,note\n", csv);
    sb_printf(&md, "# %s\n\nquipu %s, config hash `%.16s`, seed %llu, scores: %s log-likelihood, %d bootstrap resamples, %.0f%% intervals.\n",
              cfg->name, QUIPU_VERSION, s->hash, (unsigned long long)cfg->seed, quipu_score_norm_name(mo.norm), mo.n_boot,
              100.0 * mo.ci_level);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!summary || !jmetrics || !order || !csv) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) order[i] = i;
    g_sort_state = s;
    qsort(order, n, sizeof *order, cmp_item_out);
    for (int mi = 0; mi < cfg->n_models && !st; mi++) {
        const char *mname = cfg->models[mi].name;
        /* summary.csv rows start with the model's cell */
        free(csv_model);
        csv_model = NULL;
        size_t csv_model_len = 0;
        FILE *cm = open_memstream(&csv_model, &csv_model_len);
        if (cm) {
            quipu_csv_write_field(cm, mname);
            fputc(',', cm);
            fclose(cm);
        }
        if (!csv_model) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
        json_t *jm = json_object();
        json_object_set_new(jm, "name", json_string(mname));
        json_object_set_new(jm, "path", json_string(cfg->models[mi].path));
        json_array_append_new(jmodels, jm);
        /* every item must have a record now */
        for (size_t i = 0; i < n; i++)
            if (!s->have[mi][i]) {
                st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "model %s: item '%s' was not scored by any rank", mname, s->items[i].id);
                goto done;
            }
        quipu_metric_results mr;
        double tm = quipu_time_now();
        st = quipu_metrics_compute(&mr, s->items, n, s->records[mi], n, &mo, err);
        s->t_metrics += quipu_time_now() - tm;
        if (st) goto done;
        const char *last_bench = NULL;
        for (size_t r = 0; r < mr.n_rows; r++) {
            const quipu_metric_result *x = &mr.rows[r];
            if (!metric_wanted(cfg, x->metric)) continue;
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(mname));
            json_object_set_new(o, "benchmark", json_string(x->benchmark));
            json_object_set_new(o, "language", json_string(x->language));
            json_object_set_new(o, "culture", json_string(x->culture));
            json_object_set_new(o, "category", json_string(x->category));
            json_object_set_new(o, "metric", json_string(x->metric));
            json_object_set_new(o, "value", isnan(x->value) ? json_null() : json_real(x->value));
            json_object_set_new(o, "ci_low", isnan(x->ci_low) ? json_null() : json_real(x->ci_low));
            json_object_set_new(o, "ci_high", isnan(x->ci_high) ? json_null() : json_real(x->ci_high));
            json_object_set_new(o, "n", json_integer(x->n));
            if (x->note) json_object_set_new(o, "note", json_string(x->note));
            json_array_append_new(jmetrics, o);
            quipu_metric_result_write_csv_row(csv, csv_model, x);
            if (!last_bench || strcmp(last_bench, x->benchmark)) {
                sb_printf(&md, "\n## %s — %s\n\n| language | culture | category | metric | value | %.0f%% CI | n |\n|---|---|---|---|---|---|---|\n",
                          mname, x->benchmark, 100.0 * mo.ci_level);
                last_bench = x->benchmark;
            }
            sb_printf(&md, "| %s | %s | %s | %s | ", x->language, x->culture, x->category, x->metric);
            sb_value_cells(&md, x);
            /* the console gets the per-culture table: every benchmark x language x culture, all categories together */
            if (!strcmp(x->category, "all")) {
                if (!con_model || strcmp(con_model, mname)) {
                    sb_printf(&con, "\n## %s: per-culture results (all categories together)\n\n"
                                    "| benchmark | language | culture | metric | value | %.0f%% CI | n |\n|---|---|---|---|---|---|---|\n",
                              mname, 100.0 * mo.ci_level);
                    con_model = mname;
                }
                sb_printf(&con, "| %s | %s | %s | %s | ", x->benchmark, x->language, x->culture, x->metric);
                sb_value_cells(&con, x);
            }
        }
        /* plots: rows of every model, written once all models are done */
        {
            quipu_metric_row *nr = realloc(plot_rows, (n_plot_rows + mr.n_rows) * sizeof *nr);
            if (!nr) { quipu_metric_results_free(&mr); st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
            plot_rows = nr;
            quipu_metric_rows_from_results(plot_rows + n_plot_rows, mname, &mr);
            n_plot_rows += mr.n_rows;
            quipu_metric_results *keep = realloc(kept, (size_t)(n_kept + 1) * sizeof *keep);
            if (!keep) { quipu_metric_results_free(&mr); st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
            kept = keep;
            kept[n_kept++] = mr;
        }
        /* items.jsonl */
        for (size_t k = 0; k < n; k++) {
            size_t i = order[k];
            const quipu_item *it = &s->items[i];
            const quipu_item_record *rc = &s->records[mi][i];
            sb_printf(&items, "{\"model\": ");
            sb_json_str(&items, mname);
            sb_printf(&items, ", \"benchmark\": ");
            sb_json_str(&items, it->benchmark);
            sb_printf(&items, ", \"id\": ");
            sb_json_str(&items, it->id);
            sb_printf(&items, ", \"language\": ");
            sb_json_str(&items, it->language);
            sb_printf(&items, ", \"culture\": ");
            sb_json_str(&items, it->culture);
            sb_printf(&items, ", \"category\": ");
            sb_json_str(&items, it->category);
            sb_printf(&items, ", \"kind\": \"%s\", \"group\": ", it->kind == QUIPU_ITEM_PAIR ? "pair" : "mc");
            sb_json_str(&items, it->group);
            sb_printf(&items, ", \"label\": %d, \"condition\": \"%s\", \"polarity\": \"%s\", \"unknown_choice\": %d, \"target_choice\": %d, "
                              "\"other_choice\": %d, \"biased_choice\": %d, \"biased_mask\": %u, \"roles\": ",
                      it->kind == QUIPU_ITEM_PAIR ? -1 : it->label, cond_name(it->condition), pol_name(it->polarity),
                      it->kind == QUIPU_ITEM_PAIR ? -1 : it->unknown_choice, it->kind == QUIPU_ITEM_PAIR ? -1 : it->target_choice,
                      it->kind == QUIPU_ITEM_PAIR ? -1 : it->other_choice, it->kind == QUIPU_ITEM_PAIR ? -1 : it->biased_choice,
                      (unsigned)it->biased_mask);
            char roles[QUIPU_MAX_CHOICES + 1] = {0};
            for (int c = 0; c < QUIPU_MAX_CHOICES && it->roles[c]; c++) roles[c] = it->roles[c];
            sb_json_str(&items, roles);
            sb_printf(&items, ", \"direction\": %d, \"lp\": [", it->direction);
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %.17g" : "%.17g", rc->logprob[c] + 0.0);
            sb_printf(&items, "], \"nt\": [");
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %d" : "%d", rc->n_tokens[c]);
            sb_printf(&items, "], \"nb\": [");
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %d" : "%d", rc->n_bytes[c]);
            sb_printf(&items, "], \"g\": [");
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %d" : "%d", rc->is_greedy[c]);
            sb_printf(&items, "]");
            if (cfg->item_text) {
                /* what was scored: the prompt and each choice as the model saw it, in record order */
                const run_unit *u = &s->units[i];
                const char *text[QUIPU_MAX_CHOICES] = {0};
                for (int c = 0; c < u->n_cont; c++)
                    if (u->map[c] >= 0 && u->map[c] < QUIPU_MAX_CHOICES) text[u->map[c]] = u->cont[c];
                sb_printf(&items, ", \"prompt\": ");
                sb_json_str(&items, u->prompt);
                sb_printf(&items, ", \"choices\": [");
                for (int c = 0; c < rc->n_choices; c++) {
                    if (c) sb_printf(&items, ", ");
                    sb_json_str(&items, text[c] ? text[c] : "");
                }
                sb_printf(&items, "]");
            }
            sb_printf(&items, "}\n");
        }
    }
    if (fclose(csv) != 0) csv_text = NULL;
    csv = NULL;
    if (!csv_text || md.oom || items.oom) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory writing results"); goto done; }
    for (int b = 0; b < cfg->n_benchmarks; b++) {
        json_t *o = json_object();
        json_object_set_new(o, "label", json_string(s->labels[b]));
        json_object_set_new(o, "name", json_string(cfg->benchmarks[b].name));
        json_object_set_new(o, "items", json_integer((json_int_t)s->bench_count[b]));
        json_object_set_new(o, "rows_skipped", json_integer((json_int_t)s->reports[b].rows_skipped));
        if (s->reports[b].rows_skipped) {
            json_t *why = json_array();
            for (size_t k = 0; k < s->reports[b].n_reasons; k++) json_array_append_new(why, json_string(s->reports[b].reasons[k]));
            json_object_set_new(o, "rows_skipped_first", why);
        }
        json_array_append_new(jbench, o);
    }
    /* malformed rows left out (on_bad_row: skip), with the first reasons: said, not just counted */
    for (int b = 0, head = 0; b < cfg->n_benchmarks; b++) {
        const quipu_load_report *r = &s->reports[b];
        if (!r->rows_skipped) continue;
        if (!head++) sb_printf(&md, "\n## Rows left out\n\n");
        sb_printf(&md, "- %s: %zu malformed row%s skipped (`on_bad_row: skip`)%s\n", s->labels[b], r->rows_skipped,
                  r->rows_skipped == 1 ? "" : "s", r->n_reasons ? "; the first:" : "");
        for (size_t k = 0; k < r->n_reasons; k++) sb_printf(&md, "  - `%s`\n", r->reasons[k]);
    }
    json_object_set_new(summary, "format", json_string("quipu-summary/1"));
    json_object_set_new(summary, "run", json_string(cfg->name));
    json_object_set_new(summary, "config_hash", json_string(s->hash));
    json_object_set_new(summary, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(summary, "normalization", json_string(quipu_score_norm_name(mo.norm)));
    json_object_set_new(summary, "bootstrap", json_integer(mo.n_boot));
    json_object_set_new(summary, "confidence", json_real(mo.ci_level));
    json_object_set(summary, "models", jmodels);
    json_object_set(summary, "benchmarks", jbench);
    json_object_set(summary, "metrics", jmetrics);
    {
        char *text = json_dumps(summary, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        if (!text) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory writing summary.json"); goto done; }
        size_t tl = strlen(text);
        char *t2 = realloc(text, tl + 2);
        if (t2) { text = t2; text[tl++] = '\n'; text[tl] = '\0'; }
        st = write_file(dir, "summary.json", text, tl, err);
        free(text);
        if (st) goto done;
    }
    if ((st = write_file(dir, "summary.csv", csv_text, csv_len, err)) || (st = write_file(dir, "summary.md", md.p, md.n, err))) goto done;
    {
        size_t bound = ZSTD_compressBound(items.n);
        void *z = malloc(bound ? bound : 1);
        if (!z) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory compressing items"); goto done; }
        size_t zn = ZSTD_compress(z, bound, items.p ? items.p : "", items.n, 9);
        if (ZSTD_isError(zn)) st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(zn));
        else st = write_file(dir, "items.jsonl.zst", z, zn, err);
        free(z);
        if (st) goto done;
    }
    {
        char pdir[4200];
        snprintf(pdir, sizeof pdir, "%s/plots", dir);
        quipu_metric_row_set set = {NULL, plot_rows, n_plot_rows, mo.ci_level};
        if ((st = quipu_plots_write(pdir, &set, 1, NULL, 0, NULL, err))) goto done;
    }
    sb_printf(&con, "\nEvery category, with the notes: %s/summary.md (and summary.json, summary.csv, plots/).\n", dir);
    printf("%s", con.p ? con.p : "");
    fflush(stdout);
done:
    free(plot_rows);
    for (int k = 0; k < n_kept; k++) quipu_metric_results_free(&kept[k]);
    free(kept);
    s->t_write = quipu_time_now() - t0 - s->t_metrics;
    free(order);
    if (csv) fclose(csv);
    free(csv_text);
    free(md.p);
    free(con.p);
    free(csv_model);
    free(items.p);
    json_decref(summary);
    json_decref(jmetrics);
    json_decref(jmodels);
    json_decref(jbench);
    return st;
}

/* sha256 of a file as 64 hex digits, and its size; 0 when it cannot be read. */
static int file_sha256_hex(const char *path, char hex[65], size_t *size) {
    quipu_mmap mm;
    quipu_error e = {0};
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || quipu_mmap_open(&mm, path, &e) != QUIPU_OK) return 0;
    uint8_t d[32];
    quipu_config_sha256(mm.data, mm.size, d);
    for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
    if (size) *size = mm.size;
    quipu_mmap_close(&mm);
    return 1;
}

static quipu_status write_manifest(run_state *s, quipu_error *err) {
    json_t *m = json_object(), *q = json_object(), *t = json_object(), *models = json_array();
    char *canon = quipu_config_canonical(s->cfg, 0);
    json_error_t je;
    json_t *cfgj = canon ? json_loads(canon, 0, &je) : NULL;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_object_set_new(q, "version", json_string(QUIPU_VERSION));
    json_object_set_new(q, "git", json_string(QUIPU_GIT_HASH));
    json_object_set_new(m, "format", json_string("quipu-manifest/2"));
    json_object_set_new(m, "quipu", q);
    json_object_set_new(m, "config_hash", json_string(s->hash));
    json_object_set_new(m, "config", cfgj ? cfgj : json_null());
    for (int i = 0; i < s->cfg->n_models; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(s->cfg->models[i].name));
        json_object_set_new(o, "path", json_string(s->cfg->models[i].path));
        char hex[65];
        struct stat stt;
        const char *mp = s->cfg->models[i].path;
        if (stat(mp, &stt) == 0 && S_ISDIR(stt.st_mode)) {
            /* a checkpoint folder: every file in it */
            struct dirent **ents = NULL;
            int ne = scandir(mp, &ents, NULL, alphasort);
            json_t *files = json_array();
            for (int k = 0; k < ne; k++) {
                char *fp = quipu_asprintf("%s/%s", mp, ents[k]->d_name);
                struct stat fs;
                size_t sz = 0;
                if (fp && stat(fp, &fs) == 0 && S_ISREG(fs.st_mode) && file_sha256_hex(fp, hex, &sz)) {
                    json_t *f = json_object();
                    json_object_set_new(f, "name", json_string(ents[k]->d_name));
                    json_object_set_new(f, "sha256", json_string(hex));
                    json_object_set_new(f, "bytes", json_integer((json_int_t)sz));
                    json_array_append_new(files, f);
                }
                free(fp);
                free(ents[k]);
            }
            free(ents);
            json_object_set_new(o, "files", files);
        } else {
            size_t sz = 0;
            if (file_sha256_hex(mp, hex, &sz)) {
                json_object_set_new(o, "sha256", json_string(hex));
                json_object_set_new(o, "bytes", json_integer((json_int_t)sz));
            }
        }
        json_array_append_new(models, o);
    }
    json_object_set_new(m, "models", models);
    json_object_set_new(m, "datasets_dir", json_string(s->cfg->datasets_dir));
    json_t *ds = json_array();
    for (int b = 0; b < s->cfg->n_benchmarks; b++) {
        const quipu_load_report *rep = &s->reports[b];
        json_t *o = json_object(), *files = json_array();
        json_object_set_new(o, "benchmark", json_string(s->labels[b]));
        for (size_t k = 0; k < rep->files && k < QUIPU_LOAD_MAX_FILES; k++) {
            json_t *f = json_object();
            json_object_set_new(f, "path", json_string(rep->file_paths[k]));
            json_object_set_new(f, "sha256", rep->file_sha256[k][0] ? json_string(rep->file_sha256[k]) : json_null());
            json_array_append_new(files, f);
        }
        json_object_set_new(o, "files", files);
        if (rep->files > QUIPU_LOAD_MAX_FILES)
            json_object_set_new(o, "files_not_listed", json_integer((json_int_t)(rep->files - QUIPU_LOAD_MAX_FILES)));
        json_array_append_new(ds, o);
    }
    json_object_set_new(m, "datasets", ds);
    json_object_set_new(m, "backend", json_string(s->cfg->n_models ? backend_name(s->cfg->models[0].backend) : ""));
    json_object_set_new(m, "ranks", json_integer(s->comm.size));
    json_object_set_new(m, "mpi", json_boolean(quipu_comm_with_mpi() && !s->comm.serial));
    json_object_set_new(m, "hostname", json_string(host));
    json_object_set_new(m, "started", json_string(s->started ? s->started : ""));
    {
        time_t now = time(NULL);
        char buf[64];
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        json_object_set_new(m, "finished", json_string(buf));
    }
    /* rank 0's phases; scoring per rank from the final progress messages */
    json_object_set_new(t, "load_s", json_real(s->t_load));
    json_object_set_new(t, "score_s", json_real(s->t_score));
    json_object_set_new(t, "gather_s", json_real(s->t_gather));
    json_object_set_new(t, "metrics_s", json_real(s->t_metrics));
    json_object_set_new(t, "write_s", json_real(s->t_write));
    json_object_set_new(t, "total_s", json_real(quipu_time_now() - s->t_start));
    json_t *pr = json_array();
    double smin = 0, smax = 0, ssum = 0;
    int64_t tok_all = 0, items_all = 0;
    for (int r = 0; r < s->comm.size; r++) {
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(r));
        json_object_set_new(o, "items", json_integer(s->rank_items[r]));
        json_object_set_new(o, "tokens", json_integer(s->rank_tokens[r]));
        json_object_set_new(o, "load_s", json_real(s->rank_load[r]));
        json_object_set_new(o, "score_s", json_real(s->rank_score[r]));
        json_array_append_new(pr, o);
        double x = s->rank_score[r];
        smin = r == 0 || x < smin ? x : smin;
        smax = r == 0 || x > smax ? x : smax;
        ssum += x;
        tok_all += s->rank_tokens[r];
        items_all += s->rank_items[r];
    }
    json_object_set_new(t, "per_rank", pr);
    json_t *sc = json_object();
    json_object_set_new(sc, "min", json_real(smin));
    json_object_set_new(sc, "avg", json_real(ssum / s->comm.size));
    json_object_set_new(sc, "max", json_real(smax));
    json_object_set_new(t, "score_s_across_ranks", sc);
    json_object_set_new(m, "timings", t);
    json_object_set_new(m, "items", json_integer((json_int_t)s->n_items));
    json_object_set_new(m, "items_scored", json_integer(items_all));
    json_object_set_new(m, "resumed_items", json_integer(s->resumed));
    json_object_set_new(m, "tokens_processed", json_integer(tok_all));
    char *text = json_dumps(m, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    quipu_status st = text ? write_file(s->cfg->output, "manifest.json", text, strlen(text), err)
                           : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    free(text);
    free(canon);
    json_decref(m);
    return st;
}

/* ------------------------------------------------------------------ main */

/* The journal's folder (OUTPUT/journal/units): one for every config writing to OUTPUT, since
 * records are keyed by unit (unit_key), not by config. */
#define QUIPU_JOURNAL_UNITS "units"

/* Without --resume, finished work in OUTPUT/journal is never silently set aside: --fresh deletes it,
 * otherwise the run stops and says which flag to give. */
static int journal_has_files(const char *dir, int remove_them) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            found |= journal_has_files(p, remove_them);
            if (remove_them) rmdir(p);
        } else {
            found = 1;
            if (remove_them) unlink(p);
        }
    }
    closedir(d);
    return found;
}

static quipu_status journal_guard(const char *out, int fresh, quipu_error *err) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/journal", out);
    if (!journal_has_files(dir, 0)) return QUIPU_OK;
    if (fresh) {
        journal_has_files(dir, 1);
        if (journal_has_files(dir, 0)) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot delete the earlier journal (--fresh)", dir);
        quipu_log(QUIPU_LOG_INFO, "--fresh: the earlier journal in %s is deleted", dir);
        return QUIPU_OK;
    }
    return quipu_error_set(err, QUIPU_ERR_INVALID,
                           "%s holds finished work of an earlier run: add --resume to reuse it (every unit this config still has), "
                           "or --fresh to delete it and start over",
                           dir);
}

static void usage_run(FILE *f) {
    fprintf(f,
            "usage: quipu run CONFIG.yaml [--set key=value]... [--resume | --fresh]\n"
            "\n"
            "Runs an experiment config (docs/config.md): every model on every benchmark, items shared out\n"
            "over MPI ranks (mpirun -n N quipu run ...), per-item records journaled per batch, metrics with\n"
            "bootstrap confidence intervals per benchmark x language x culture x category written to the\n"
            "config's output folder (docs/results.md).\n"
            "\n"
            "  --set key=value   override any config key (dotted paths, list indices: models.0.path=...)\n"
            "  --resume          reuse the finished work in OUTPUT/journal: every (model, benchmark entry, item)\n"
            "                    this config still has is not scored again (any rank count)\n"
            "  --fresh           delete OUTPUT/journal first (a run that finds one otherwise stops)\n"
            "\n"
            "Exit status: 0 done; 1 error; 2 usage or config errors; %d stopped by SIGUSR1/SIGTERM/SIGINT\n"
            "after journaling the current batch (rerun with --resume; sbatch scripts requeue on it).\n",
            QUIPU_EXIT_REQUEUE);
}

static void run_free(run_state *s) {
    if (s->records)
        for (int i = 0; i < s->cfg->n_models; i++) free(s->records[i]);
    if (s->have)
        for (int i = 0; i < s->cfg->n_models; i++) free(s->have[i]);
    free(s->records);
    free(s->have);
    if (s->units)
        for (size_t i = 0; i < s->n_items; i++) unit_free(&s->units[i]);
    free(s->units);
    quipu_items_free(s->items, s->n_items);
    if (s->model_keys)
        for (int m = 0; m < s->cfg->n_models; m++) free(s->model_keys[m]);
    free(s->model_keys);
    if (s->labels)
        for (int b = 0; b < s->cfg->n_benchmarks; b++) free(s->labels[b]);
    free(s->labels);
    free(s->reports);
    free(s->bench_first);
    free(s->bench_count);
    free(s->local);
    free(s->started);
    free(s->pg.done);
    free(s->pg.work);
    free(s->pg.tokens);
    free(s->pg.final);
    free(s->rank_items);
    free(s->rank_tokens);
    free(s->rank_load);
    free(s->rank_score);
    quipu_config_free(s->cfg);
}

int quipu_run_main(int argc, char **argv) {
    run_state s;
    memset(&s, 0, sizeof s);
    s.t_start = quipu_time_now();
    quipu_error err = {0};
    const char *overrides[256];
    int n_over = 0, resume = 0, fresh = 0, rc = 1;
    static const struct option lo[] = {{"set", required_argument, 0, 's'}, {"resume", no_argument, 0, 'r'}, {"fresh", no_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_over == 256) { fprintf(stderr, "quipu run: too many --set options\n"); return 2; }
            overrides[n_over++] = optarg;
            break;
        case 'r': resume = 1; break;
        case 'f': fresh = 1; break;
        case 'h': usage_run(stdout); return 0;
        default: usage_run(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage_run(stderr);
        return 2;
    }
    const char *config_path = argv[optind];
    install_signals(); /* before anything slow: a stop asked during loading is honoured before the first batch */
    if (quipu_comm_init(&s.comm, &argc, &argv, &err)) {
        fprintf(stderr, "quipu run: %s\n", err.msg);
        return 1;
    }
    if (s.comm.size > 1) quipu_log_set_rank(s.comm.rank);
    {
        size_t R = (size_t)s.comm.size;
        s.pg.done = calloc(R, sizeof *s.pg.done);
        s.pg.work = calloc(R, sizeof *s.pg.work);
        s.pg.tokens = calloc(R, sizeof *s.pg.tokens);
        s.pg.tty = isatty(STDERR_FILENO) && !getenv("SLURM_JOB_ID");
        s.pg.final = calloc(R, 1);
        s.rank_items = calloc(R, sizeof *s.rank_items);
        s.rank_tokens = calloc(R, sizeof *s.rank_tokens);
        s.rank_load = calloc(R, sizeof *s.rank_load);
        s.rank_score = calloc(R, sizeof *s.rank_score);
        if (!s.pg.done || !s.pg.work || !s.pg.tokens || !s.pg.final || !s.rank_items || !s.rank_tokens || !s.rank_load || !s.rank_score) {
            fprintf(stderr, "quipu run: out of memory\n");
            run_free(&s);
            quipu_comm_finalize(&s.comm);
            return 1;
        }
    }
    {
        time_t now = time(NULL);
        char buf[64];
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        s.started = strdup(buf);
    }
    /* 1. config: every rank checks it the same way; rank 0 reports every problem */
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    quipu_config_options co = {.known_benchmarks = quipu_benchmark_names()};
    quipu_status st = quipu_config_load_opts(&s.cfg, config_path, overrides, n_over, &co, &errs);
    if (st) {
        if (leader(&s)) quipu_error_list_print(&errs, stderr);
        quipu_error_list_free(&errs);
        run_free(&s);
        quipu_comm_finalize(&s.comm);
        return 2;
    }
    quipu_error_list_free(&errs);
    if (resume) s.cfg->resume = 1;
    if (fresh && s.cfg->resume) {
        if (leader(&s)) fprintf(stderr, "quipu run: --fresh and --resume (or resume: true) contradict each other; give one\n");
        run_free(&s);
        quipu_comm_finalize(&s.comm);
        return 2;
    }
    /* 2. benchmarks → items → prompts */
    st = load_benchmarks(&s, &err);
    if (agree(&s, st, &err)) goto fail;
    if (quipu_config_hash(s.cfg, s.hash, &err)) goto fail;
    st = precheck_models(&s, &err);
    if (agree(&s, st, &err)) goto fail;
    /* 3. output folder and journal */
    st = QUIPU_OK;
    if (leader(&s)) {
        char cmd_dir[4200];
        snprintf(cmd_dir, sizeof cmd_dir, "%s/journal", s.cfg->output);
        struct stat stt;
        quipu_error e2 = {0};
        if (quipu_mkdir_p(s.cfg->output, &e2))
            st = quipu_error_set(&err, QUIPU_ERR_IO, "%s: cannot create the output folder (%s)", s.cfg->output, e2.msg);
        else if (stat(s.cfg->output, &stt) != 0 || !S_ISDIR(stt.st_mode))
            st = quipu_error_set(&err, QUIPU_ERR_IO, "%s: output is not a folder", s.cfg->output);
        else if (access(s.cfg->output, W_OK) != 0)
            st = quipu_error_set(&err, QUIPU_ERR_IO, "%s: output folder is not writable: %s", s.cfg->output, strerror(errno));
        else if (!s.cfg->resume)
            st = journal_guard(s.cfg->output, fresh, &err);
    }
    if (agree(&s, st, &err)) goto fail;
    done_set done = {0};
    if (s.cfg->resume) {
        st = quipu_journal_read_all(s.cfg->output, QUIPU_JOURNAL_UNITS, &done.e, &done.n, &err);
        if (agree(&s, st, &err)) goto fail;
        if (leader(&s)) quipu_log(QUIPU_LOG_INFO, "resume: %zu finished items in the journal", done.n);
    }
    quipu_journal *jr = NULL;
    st = quipu_journal_open(&jr, s.cfg->output, QUIPU_JOURNAL_UNITS, s.comm.rank, &err);
    if (agree(&s, st, &err)) { quipu_journal_entries_free(done.e, done.n); goto fail; }
    if (leader(&s))
        quipu_log(QUIPU_LOG_INFO, "run %s: %zu item%s, %d model%s, %d rank%s", s.cfg->name, s.n_items, s.n_items == 1 ? "" : "s",
                  s.cfg->n_models, s.cfg->n_models == 1 ? "" : "s", s.comm.size, s.comm.size == 1 ? "" : "s");
    /* 4. scoring, model by model */
    for (int mi = 0; mi < s.cfg->n_models; mi++) {
        st = score_model(&s, mi, &done, jr, &err);
        if (st) quipu_log(QUIPU_LOG_ERROR, "%s", err.msg);
        int64_t stop = g_stop_signal ? 1 : 0;
        quipu_error e2 = {0};
        if (agree(&s, st, &e2)) {
            quipu_journal_close(jr);
            quipu_journal_entries_free(done.e, done.n);
            err.code = QUIPU_OK; /* already printed */
            rc = 1;
            goto out;
        }
        quipu_comm_allreduce_max_i64(&s.comm, &stop, 1, &e2);
        if (stop) {
            quipu_journal_close(jr);
            quipu_journal_entries_free(done.e, done.n);
            if (leader(&s))
                quipu_log(QUIPU_LOG_WARN, "stopped by a signal: finished batches are in %s/journal; rerun with --resume", s.cfg->output);
            rc = QUIPU_EXIT_REQUEUE;
            goto out;
        }
    }
    quipu_journal_close(jr);
    /* 5. gather, metrics, results */
    st = gather_records(&s, &done, &err);
    quipu_journal_entries_free(done.e, done.n);
    if (agree(&s, st, &err)) goto fail;
    if (leader(&s)) {
        st = write_results(&s, &err);
        if (!st) st = write_manifest(&s, &err);
    }
    if (agree(&s, st, &err)) goto fail;
    if (leader(&s)) quipu_log(QUIPU_LOG_INFO, "results in %s", s.cfg->output);
    rc = 0;
    goto out;
fail:
    if (err.code && leader(&s)) fprintf(stderr, "quipu run: %s\n", err.msg);
    else if (err.code && s.comm.size == 1) fprintf(stderr, "quipu run: %s\n", err.msg);
    rc = 1;
out:
    run_free(&s);
    quipu_comm_finalize(&s.comm);
    return rc;
}
