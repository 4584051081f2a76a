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

#include "adapter.h"
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

#include "run_internal.h"

/* ------------------------------------------------------------------ run state */




/* Messages from every rank must agree: returns the worst status; rank 0 prints its message. */
static quipu_status agree(run_state *s, quipu_status mine, quipu_error *err) {
    quipu_error tmp = {0};
    quipu_status all = quipu_comm_agree(&s->comm, mine, &tmp);
    if (all != QUIPU_OK && mine == QUIPU_OK)
        quipu_error_set(err, all, "another rank failed (see its message above)");
    if (all != QUIPU_OK && mine != QUIPU_OK && !leader(s)) run_error(s, err->msg);
    return all;
}

/* ------------------------------------------------------------------ phase: benchmarks */

static int strlist_has_ci(const quipu_strlist *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i], s ? s : "")) return 1;
    return 0;
}

/* An entry's prompt variants (config `prompt_variants`): every item once per variant, in item
 * order then variant order, with id "ID@VARIANT", the variant as its template id ("TEMPLATE@VARIANT"
 * when it has one) and item->variant set, so that the metrics come per variant and with their
 * spread across variants. Multiple choice only: pairs have no prompt. */
static quipu_status prompt_variants(const quipu_config_benchmark *cb, quipu_item **its, size_t *n, quipu_error *err) {
    size_t nv = (size_t)cb->n_variants, m = *n;
    for (size_t i = 0; i < m; i++)
        if ((*its)[i].kind != QUIPU_ITEM_MC)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: prompt_variants: benchmark '%s' has items that are not multiple choice (%s); "
                                   "prompt variants apply to multiple choice", cb->where, cb->label ? cb->label : cb->name, (*its)[i].id);
    if (m > SIZE_MAX / nv / sizeof **its) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    quipu_item *out = calloc(m * nv > 0 ? m * nv : 1, sizeof *out);
    if (!out) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    size_t w = 0;
    quipu_status st = QUIPU_OK;
    for (size_t i = 0; i < m && !st; i++)
        for (size_t v = 0; v < nv && !st; v++) {
            quipu_item *it = &out[w];
            const char *vid = cb->variants[v].id, *tpl = (*its)[i].template_id;
            if (quipu_item_copy(it, &(*its)[i])) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); break; }
            w++;
            char *id = quipu_asprintf("%s@%s", it->id, vid), *t = tpl ? quipu_asprintf("%s@%s", tpl, vid) : strdup(vid);
            if (!id || !t) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            free(it->id), free(it->template_id);
            it->id = id;
            it->template_id = t;
            it->variant = (int)v + 1;
        }
    quipu_items_free(*its, m);
    if (st) {
        quipu_items_free(out, w);
        *its = NULL;
        *n = 0;
        return st;
    }
    *its = out;
    *n = w;
    return QUIPU_OK;
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
                              .path = cb->path, .label = s->labels[b],
                              .assoc_templates = cb->assoc_templates, .n_assoc_templates = (size_t)cb->n_assoc_templates};
        quipu_item *its = NULL;
        size_t n = 0;
        quipu_status st;
        if (cb->format == QUIPU_CFG_FORMAT_TEMPLATE)
            st = quipu_load_template(cb->path, &lo, &its, &n, &s->reports[b], err);
        else if (cb->format == QUIPU_CFG_FORMAT_PAIRS || cb->format == QUIPU_CFG_FORMAT_MC || cb->format == QUIPU_CFG_FORMAT_TEXT)
            st = quipu_load_jsonl(cb->path,
                                  cb->format == QUIPU_CFG_FORMAT_PAIRS  ? QUIPU_ITEM_PAIR
                                  : cb->format == QUIPU_CFG_FORMAT_TEXT ? QUIPU_ITEM_TEXT
                                                                        : QUIPU_ITEM_MC,
                                  &lo, &its, &n, &s->reports[b], err);
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
        /* a template definition's kind is known only now: control and knowledge are accuracies */
        if ((cb->role == QUIPU_CFG_ROLE_CONTROL || cb->role == QUIPU_CFG_ROLE_KNOWLEDGE) && its[0].kind != QUIPU_ITEM_MC) {
            const char *kind = its[0].kind == QUIPU_ITEM_PAIR ? "pairs" : its[0].kind == QUIPU_ITEM_TEXT ? "text" : "association";
            quipu_items_free(its, n);
            return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: role '%s' reports an accuracy, which the %s items of '%s' do not have",
                                   cb->where, quipu_cfg_role_name(cb->role), kind, s->labels[b]);
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
        if (cb->n_variants && (st = prompt_variants(cb, &its, &n, err))) return st;
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
        for (size_t i = s->bench_first[b]; i < s->bench_first[b] + s->bench_count[b]; i++) {
            /* under its prompt variant: the variant's template, prompt and delimiter where it gives them */
            quipu_config_benchmark cb = cfg->benchmarks[b];
            const quipu_prompt_variant *v = s->items[i].variant > 0 ? &cb.variants[s->items[i].variant - 1] : NULL;
            if (v) {
                cb.template_mode = v->template_mode;
                if (v->prompt) cb.prompt = v->prompt;
                if (v->delimiter) cb.delimiter = v->delimiter;
            }
            if (run_build_unit(&s->units[i], &s->items[i], &cb, err)) return err->code;
        }
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

/* A model's adapters checked against its base without loading it, and their identity for the
 * journal key: "|adapters:" and 16 hex digits of the SHA-256 over each one's (in order). */
static quipu_status adapters_check(const quipu_config_model *cm, char out[32], quipu_error *err) {
    if (quipu_adapter_precheck(cm->path, (const char *const *)cm->adapters.v, cm->adapters.n, err)) return err->code;
    char *all = calloc((size_t)cm->adapters.n, 65);
    if (!all) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    quipu_status st = QUIPU_OK;
    for (int k = 0; k < cm->adapters.n && !st; k++) st = quipu_adapter_identity(cm->adapters.v[k], all + 65 * k, err);
    uint8_t d[32];
    quipu_config_sha256(all, (size_t)cm->adapters.n * 65, d);
    free(all);
    snprintf(out, 32, "|adapters:%02x%02x%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
    return st;
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
        char ad[32] = "";
        if (cm->adapters.n && adapters_check(cm, ad, &e)) {
            if (sink) fclose(sink);
            return quipu_error_set(err, e.code, "model %s: %s", cm->name, e.msg);
        }
        s->model_keys[mi] = quipu_asprintf("%s|%s|%s/%s/%lld%s", cm->name, fp, bname,
                                           quipu_backend_dtype(bname, quipu_cfg_dtype_name(cm->dtype)), (long long)cm->max_length, ad);
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

/* A test hook for the fail-fast path: QUIPU_FAULT=RANK:ITEMS makes that rank fail once it has
 * scored and journaled at least ITEMS items of a model, as a real error (a disk, a GPU) would. */
static quipu_status injected_fault(const run_state *s, int64_t n_done, quipu_error *err) {
    const char *f = getenv("QUIPU_FAULT");
    int rank = -1;
    long long after = 0;
    if (!f || sscanf(f, "%d:%lld", &rank, &after) != 2 || rank != s->comm.rank || n_done < after) return QUIPU_OK;
    return quipu_error_set(err, QUIPU_ERR_IO, "injected fault after %lld items (QUIPU_FAULT=%s)", (long long)n_done, f);
}

/* NaN or Inf in an item's log-probs: said with the item's benchmark and id; the record keeps the
 * value (journal and items.jsonl write it as null) and the metrics leave the item out, counting
 * it (run_write.c). QUIPU_FAULT_NAN=ITEM_ID is a test hook making that item's first choice NaN. */
static void nonfinite_check(run_state *s, const quipu_item *it, quipu_item_record *rec) {
    const char *hook = getenv("QUIPU_FAULT_NAN");
    if (hook && !strcmp(hook, it->id)) rec->logprob[0] = NAN;
    for (int c = 0; c < rec->n_choices; c++)
        if (!isfinite(rec->logprob[c])) {
            if (s->comm.size > 1) fprintf(stderr, "quipu[%d] warn: ", s->comm.rank);
            else fputs("quipu warn: ", stderr);
            fprintf(stderr, "%s: item %s: choice %d has a non-finite log-probability (%g): left out of the metrics, counted in summary.json\n",
                    it->benchmark, it->id, c, rec->logprob[c]);
            return;
        }
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

/* The base a model entry needs (path, backend, dtype), loaded, or kept from the entry before. */
static void base_drop(run_state *s) {
    quipu_model_free(s->base.m);
    quipu_backend_free(s->base.b);
    free(s->base.key);
    memset(&s->base, 0, sizeof s->base);
}

static char *base_key(const quipu_config_model *cm) {
    return quipu_asprintf("%s|%s|%s|tp%lld", cm->path, backend_name(cm->backend), quipu_cfg_dtype_name(cm->dtype), (long long)cm->tensor_parallel);
}

/* The tensor-parallel groups for tp, made collectively by every rank at the start of each model
 * (a no-op when tp has not changed). Every rank first agrees the split is possible, so no rank
 * waits in a split the others refused. */
static quipu_status tp_groups(run_state *s, int tp, quipu_error *err) {
    if (s->tpg_size == tp) return QUIPU_OK;
    base_drop(s); /* its backend points at the old group */
    quipu_comm_group_free(&s->tpg);
    s->tpg_size = 0;
    int64_t bad = tp > 1 && (s->comm.serial || s->comm.local_size % tp) ? 1 : 0;
    quipu_error e2 = {0};
    if (quipu_comm_allreduce_max_i64(&s->comm, &bad, 1, &e2)) return quipu_error_set(err, e2.code, "%s", e2.msg);
    if (bad && !(tp > 1 && (s->comm.serial || s->comm.local_size % tp)))
        return quipu_error_set(err, QUIPU_ERR_INVALID, "tensor parallelism %d: another node's rank count is not a multiple of %d", tp, tp);
    quipu_status st = quipu_comm_split_tp(&s->comm, tp, &s->tpg, err);
    if (!st) s->tpg_size = tp;
    return st;
}

/* A stop signal, agreed by the members of a tensor-parallel group (they must run the same
 * batches: one leaving alone would leave the others waiting in an all-gather). */
static int stop_now(run_state *s) {
    if (s->tpg.size <= 1) return g_stop_signal != 0;
    int32_t mine = g_stop_signal != 0, all[64] = {0};
    quipu_error e = {0};
    if (s->tpg.size > 64 || quipu_comm_group_allgather(&s->tpg, &mine, sizeof mine, all, &e)) return 1;
    int any = 0;
    for (int i = 0; i < s->tpg.size; i++) any |= all[i];
    return any;
}

static quipu_status base_get(run_state *s, const quipu_config_model *cm, quipu_model **out, quipu_error *err) {
    char *key = base_key(cm);
    if (!key) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (s->base.key && !strcmp(s->base.key, key)) {
        free(key);
        if (leader(s)) quipu_log(QUIPU_LOG_INFO, "model %s: base %s already loaded", cm->name, cm->path);
        *out = s->base.m;
        return QUIPU_OK;
    }
    base_drop(s);
    s->base.key = key;
    double t0 = quipu_time_now();
    if (quipu_backend_init(&s->base.b, backend_name(cm->backend), (int)s->cfg->scoring.threads, err) ||
        quipu_backend_set_dtype(s->base.b, quipu_cfg_dtype_name(cm->dtype), err) || quipu_backend_set_group(s->base.b, &s->tpg, err) ||
        quipu_model_load(&s->base.m, cm->path, s->base.b, err)) {
        base_drop(s);
        return err->code;
    }
    if (leader(s)) quipu_log(QUIPU_LOG_INFO, "model %s: loaded %s in %.1f s", cm->name, cm->path, quipu_time_now() - t0);
    *out = s->base.m;
    return QUIPU_OK;
}

/* Scoring order: config order, except that entries sharing a base follow the first of them. */
static quipu_status model_order(run_state *s, quipu_error *err) {
    int n = s->cfg->n_models, k = 0;
    char **keys = calloc((size_t)n, sizeof *keys);
    uint8_t *taken = calloc((size_t)n, 1);
    s->model_order = calloc((size_t)n, sizeof *s->model_order);
    quipu_status st = keys && taken && s->model_order ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++)
        if (!(keys[i] = base_key(&s->cfg->models[i]))) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++)
        for (int j = i; j < n; j++)
            if (!taken[j] && !strcmp(keys[i], keys[j])) taken[j] = 1, s->model_order[k++] = j;
    for (int i = 0; keys && i < n; i++) free(keys[i]);
    free(keys);
    free(taken);
    return st;
}

/* A chunk of this rank's units, mine[k0, k1): its groups (room for every unit's: two chunks
 * alternate), its results, and its scoring from run_cache_begin to run_cache_end. */
typedef struct run_chunk {
    size_t k0, k1;
    int64_t bytes;
    quipu_score_group *groups;
    quipu_score_result *res;
    size_t n_res;
    run_cache_job *job;
    int active;               /* begun, not dropped */
    int ended;                /* run_cache_end succeeded: res holds results */
} run_chunk;

/* The units from k0 on, about chunk_bytes of text: their groups looked up in the cache,
 * tokenized and the first batch packed (host work: it runs under the chunk before's last batch). */
static quipu_status chunk_begin(run_state *s, const size_t *mine, size_t n_mine, size_t k0, int64_t chunk_bytes, run_cache *cache,
                                quipu_model *m, const quipu_scorer_opts *so, run_chunk *ch, quipu_error *err) {
    size_t k1 = k0, n_res = 0, n_groups = 0;
    int64_t bytes = 0;
    while (k1 < n_mine && (k1 == k0 || bytes + s->units[mine[k1]].cost <= chunk_bytes)) {
        run_unit *u = &s->units[mine[k1]];
        n_groups += run_unit_groups(u, ch->groups + n_groups);
        bytes += u->cost;
        n_res += (size_t)u->n_cont;
        k1++;
    }
    ch->k0 = k0, ch->k1 = k1, ch->bytes = bytes, ch->n_res = n_res, ch->ended = 0;
    if (!(ch->res = calloc(n_res ? n_res : 1, sizeof *ch->res))) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    ch->active = 1;
    return run_cache_begin(&ch->job, cache, m, so, ch->groups, n_groups, ch->res, err);
}

static void chunk_drop(run_chunk *ch) {
    run_cache_job_free(ch->job);
    for (size_t r = 0; ch->ended && r < ch->n_res; r++) quipu_score_result_free(&ch->res[r]);
    free(ch->res);
    ch->job = NULL;
    ch->res = NULL;
    ch->active = ch->ended = 0;
}

static quipu_status score_model(run_state *s, int mi, const done_set *done, quipu_journal *jr, quipu_error *err) {
    const quipu_config_model *cm = &s->cfg->models[mi];
    size_t n = s->n_items;
    char **keys = calloc(n ? n : 1, sizeof *keys);
    int32_t *owner = calloc(n ? n : 1, sizeof *owner);
    size_t *todo = calloc(n ? n : 1, sizeof *todo), *mine = calloc(n ? n : 1, sizeof *mine);
    const char **todo_keys = calloc(n ? n : 1, sizeof *todo_keys);
    int64_t *todo_cost = calloc(n ? n : 1, sizeof *todo_cost);
    quipu_model *m = NULL;          /* s->base.m, owned there */
    quipu_model_edits *edits = NULL; /* the originals of what this entry's adapters changed */
    run_cache *cache = NULL;        /* repeated requests, this model on this rank */
    quipu_status st = QUIPU_OK;
    size_t n_todo = 0, n_mine = 0;
    int64_t n_done = 0, work_done = 0, tokens0 = s->tokens_processed;
    double load_s = 0, score_s = 0;
    int counts = 1; /* this rank records what it scores (tensor parallelism: member 0 of its group) */
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
    /* items go to the data-parallel replicas: each rank its own, or each tensor-parallel group,
     * whose members all score the group's items (member 0 records them) */
    if ((st = tp_groups(s, cm->tensor_parallel > 1 ? (int)cm->tensor_parallel : 1, err))) goto done;
    int dp_size = s->tpg.dp_size, dp_rank = s->tpg.dp_rank;
    counts = s->tpg.rank == 0;
    if (s->tpg.size > 1 && cm->adapters.n) {
        st = quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "model %s: adapters with tensor_parallel %lld are not supported yet", cm->name,
                             (long long)cm->tensor_parallel);
        goto done;
    }
    if (s->cfg->distribution.sharding == QUIPU_CFG_SHARD_ROUND_ROBIN) {
        for (size_t k = 0; k < n_todo; k++) owner[k] = (int32_t)(k % (size_t)dp_size);
    } else if ((st = quipu_assign_ranks(todo_cost, todo_keys, n_todo, dp_size, owner, err))) {
        goto done;
    }
    for (size_t k = 0; k < n_todo; k++)
        if (owner[k] == dp_rank) mine[n_mine++] = todo[k];
    if (leader(s))
        quipu_log(QUIPU_LOG_INFO, "model %s: %zu item%s to score (%zu on rank 0), %zu from the journal", cm->name, n_todo,
                  n_todo == 1 ? "" : "s", n_mine, n - n_todo);
    if (n_mine == 0 || stop_now(s)) goto done; /* nothing to do, or asked to stop: no model load */
    double t0 = quipu_time_now();
    if ((st = base_get(s, cm, &m, err))) goto done;
    if ((st = quipu_model_apply_adapters(m, (const char *const *)cm->adapters.v, cm->adapters.n, &edits, err))) goto done;
    load_s = quipu_time_now() - t0;
    t0 = quipu_time_now();
    s->pg.t0 = s->pg.last = t0;
    quipu_scorer_opts so = {.batch_tokens = s->cfg->scoring.batch_tokens, .max_length = cm->max_length,
                            .no_prefix_sharing = !s->cfg->scoring.prefix_sharing, .tokens_processed = &s->tokens_processed};
    /* chunks of about one batch of tokens: each is scored, journaled and synced before the next.
     * The next chunk is tokenized, packed and its first batch begun while this one's last batch
     * runs, and this one is journaled under that batch (docs/gpu.md); QUIPU_GPU_OVERLAP=0 runs
     * them one after the other. Either way a stop is honoured between chunks, before a chunk's
     * first batch: the chunks begun are journaled. */
    int64_t chunk_bytes = s->cfg->scoring.batch_tokens * 3;
    size_t n_group_room = 0; /* a unit is one group, or one per continuation (run_unit_groups) */
    for (size_t k = 0; k < n_mine; k++) n_group_room += (size_t)s->units[mine[k]].n_cont;
    run_chunk ch[2] = {{.groups = calloc(n_group_room ? n_group_room : 1, sizeof(quipu_score_group))},
                       {.groups = calloc(n_group_room ? n_group_room : 1, sizeof(quipu_score_group))}};
    int cur = 0, overlap = quipu_score_overlap();
    if (!ch[0].groups || !ch[1].groups) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    /* repeated requests scored once (run_cache.c), unless prefix sharing is off (the comparison mode) */
    if (!st && s->cfg->scoring.prefix_sharing && !(cache = run_cache_new())) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (!st && !stop_now(s)) st = chunk_begin(s, mine, n_mine, 0, chunk_bytes, cache, m, &so, &ch[0], err);
    while (!st && ch[cur].active) {
        run_chunk *c = &ch[cur], *nx = &ch[1 - cur];
        quipu_score_job *sj = run_cache_job_scoring(c->job);
        while (!st && sj && quipu_score_job_more(sj)) st = quipu_score_job_step(sj, err);
        if (st) break;
        /* the last batch of this chunk is in flight: the next chunk's host work now */
        quipu_status st_next = QUIPU_OK;
        quipu_error err_next = {0};
        int stopping = 0;
        if (overlap && c->k1 < n_mine) {
            if (stop_now(s)) {
                stopping = 1;
            } else {
                st_next = chunk_begin(s, mine, n_mine, c->k1, chunk_bytes, cache, m, &so, nx, &err_next);
                quipu_score_job *nj = st_next ? NULL : run_cache_job_scoring(nx->job);
                if (nj && quipu_score_job_more(nj)) st_next = quipu_score_job_step(nj, &err_next);
            }
        }
        if ((st = run_cache_end(c->job, err))) break;
        c->ended = 1;
        size_t r = 0;
        for (size_t k = c->k0; k < c->k1; k++) {
            run_unit *u = &s->units[mine[k]];
            quipu_item_record rec;
            memset(&rec, 0, sizeof rec);
            rec.n_choices = u->n_record;
            for (int cc = 0; cc < u->n_cont; cc++, r++) {
                int j = u->map[cc];
                rec.logprob[j] = c->res[r].logprob;
                rec.n_tokens[j] = c->res[r].n_tokens;
                rec.is_greedy[j] = (uint8_t)c->res[r].is_greedy;
                quipu_score_result_free(&c->res[r]);
            }
            /* bytes of the choice text itself, without the delimiter (lm-eval's acc_bytes) */
            for (int cc = 0; cc < u->n_cont; cc++) rec.n_bytes[u->map[cc]] = (int32_t)(u->cont_len[cc] - u->delim_len);
            nonfinite_check(s, &s->items[mine[k]], &rec);
            if (!counts) continue; /* another member of the tensor-parallel group records it */
            if ((st = quipu_journal_add(jr, keys[mine[k]], &rec, err))) break;
            if ((st = local_add(s, keys[mine[k]], &rec, err))) break;
        }
        if (st || (st = quipu_journal_sync(jr, err))) break;
        if ((st = injected_fault(s, n_done + (int64_t)(c->k1 - c->k0), err))) break;
        if (counts) {
            s->scored += (int64_t)(c->k1 - c->k0);
            n_done += (int64_t)(c->k1 - c->k0);
            work_done += c->bytes;
        }
        progress_step(s, n_done, work_done, counts ? s->tokens_processed - tokens0 : 0);
        size_t k1 = c->k1;
        chunk_drop(c);
        if (st_next) { /* after this chunk's journal, as without the overlap */
            st = quipu_error_set(err, st_next, "%s", err_next.msg);
            break;
        }
        if (stopping) break;
        if (!overlap && k1 < n_mine && !stop_now(s) && (st = chunk_begin(s, mine, n_mine, k1, chunk_bytes, cache, m, &so, nx, err))) break;
        cur = 1 - cur;
    }
    chunk_drop(&ch[0]); /* after a failure: waits for a batch still in flight, then frees */
    chunk_drop(&ch[1]);
    free(ch[0].groups);
    free(ch[1].groups);
    score_s = quipu_time_now() - t0;
    {
        int64_t req = 0, rep = 0;
        run_cache_stats(cache, &req, &rep);
        if (rep)
            quipu_log(QUIPU_LOG_INFO, "model %s: %lld of this rank's %lld requests repeated an earlier one and were not run again",
                      cm->name, (long long)rep, (long long)req);
    }
done:
    run_cache_free(cache);
    s->t_load += load_s;
    s->t_score += score_s;
    {
        quipu_error e2 = {0};
        quipu_status pst = progress_end(s, st != QUIPU_OK, n_done, counts ? s->tokens_processed - tokens0 : 0, load_s, score_s, &e2);
        if (pst && !st) st = quipu_error_set(err, pst, "%s", e2.msg);
    }
    if (edits) { /* the base as it was loaded, byte for byte, for the next entry */
        quipu_error e3 = {0};
        if (quipu_model_restore(m, edits, &e3)) {
            base_drop(s);
            if (!st) st = quipu_error_set(err, e3.code, "%s", e3.msg);
        }
    }
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
        for (size_t i = 0; i < s->n_items; i++) run_unit_free(&s->units[i]);
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
    base_drop(s);
    quipu_comm_group_free(&s->tpg);
    free(s->model_order);
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
    st = model_order(&s, &err);
    if (agree(&s, st, &err)) { quipu_journal_close(jr); quipu_journal_entries_free(done.e, done.n); goto fail; }
    for (int oi = 0; oi < s.cfg->n_models; oi++) {
        int mi = s.model_order[oi];
        st = score_model(&s, mi, &done, jr, &err);
        if (st) run_error(&s, err.msg);
        if (st && s.comm.size > 1) {
            /* Fail fast: the other ranks may have hours of scoring left before they would reach the
             * agreement below. What this rank finished is synced in its journal; MPI_Abort ends them
             * all now, and --resume continues from every rank's journal. */
            quipu_journal_close(jr);
            fprintf(stderr, "quipu[%d] run: stopping every rank (finished items are in %s/journal; fix the problem, then --resume)\n",
                    s.comm.rank, s.cfg->output);
            fflush(NULL);
            quipu_comm_abort(&s.comm, 1);
        }
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
    base_drop(&s);
    /* 5. gather, metrics, results */
    st = gather_records(&s, &done, &err);
    quipu_journal_entries_free(done.e, done.n);
    if (agree(&s, st, &err)) goto fail;
    if (leader(&s)) {
        st = run_write_results(&s, &err);
        if (!st) st = run_write_manifest(&s, &err);
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
