/* test_report.c — `quipu report` and what it stands on: synthetic run folders written here to
 * docs/results.md (summary.json + items.jsonl.zst compressed from C) are read back item for item
 * and record for record; the report on a tiny hand-computed case (paired differences, McNemar
 * counts); every SVG checked as well-formed XML with the expected number of markers (a small
 * checker here, plus python3's xml.etree when present); the committed runs in
 * tests/golden/report; every error case with its one-line message.
 * QUIPU_REPORT_WRITE_GOLDEN=DIR regenerates the golden run folders into DIR. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "config.h"
#include "metrics.h"
#include "plot.h"
#include "report.h"
#include "run_read.h"
#include "testlib.h"

#define CHECK_CONTAINS(hay, needle) \
    CHECK_MSG((hay) && strstr((hay), (needle)), "'%s' does not contain '%s'", (hay) ? (hay) : "(null)", (needle))

static char g_tmp[1024];

static const char *tmp_path(const char *name)
{
    return test_path(g_tmp, name);
}

static char *xstrdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

static char *slurp(const char *path)
{
    char *s = NULL;
    size_t n = 0;
    quipu_error e = {0};
    if (quipu_read_file(path, &s, &n, &e)) return NULL;
    return s;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_zst(const char *path, const char *text)
{
    size_t n = strlen(text), bound = ZSTD_compressBound(n);
    void *z = malloc(bound);
    size_t zn = ZSTD_compress(z, bound, text, n, 3);
    write_bytes(path, z, ZSTD_isError(zn) ? 0 : zn);
    free(z);
}

static void rm_rf(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

/* ---- synthetic items ----------------------------------------------------------------------- */

typedef struct synth {
    quipu_item *items;
    quipu_item_record *recs;
    size_t n, cap;
} synth;

static void synth_free(synth *s)
{
    for (size_t i = 0; i < s->n; i++) quipu_item_free(&s->items[i]);
    free(s->items);
    free(s->recs);
    memset(s, 0, sizeof *s);
}

static quipu_item *synth_add(synth *s, const char *bench, const char *id, const char *lang, const char *cult,
                             const char *cat, quipu_item_kind kind)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->items = realloc(s->items, s->cap * sizeof *s->items);
        s->recs = realloc(s->recs, s->cap * sizeof *s->recs);
    }
    quipu_item *it = &s->items[s->n];
    quipu_item_record *r = &s->recs[s->n];
    memset(it, 0, sizeof *it);
    memset(r, 0, sizeof *r);
    it->id = xstrdup(id);
    it->benchmark = xstrdup(bench);
    it->language = xstrdup(lang);
    it->culture = xstrdup(cult);
    it->category = xstrdup(cat);
    it->source = xstrdup("synthetic");
    it->kind = kind;
    it->label = it->unknown_choice = it->target_choice = it->other_choice = it->biased_choice = -1;
    r->item_index = (int64_t)s->n;
    s->n++;
    return it;
}

static void add_pair(synth *s, const char *bench, const char *id, const char *lang, const char *cult, const char *cat,
                     int direction, double more, double less)
{
    quipu_item *it = synth_add(s, bench, id, lang, cult, cat, QUIPU_ITEM_PAIR);
    it->direction = direction;
    quipu_item_record *r = &s->recs[s->n - 1];
    r->n_choices = 2;
    r->logprob[0] = more;
    r->logprob[1] = less;
    r->n_tokens[0] = 7;
    r->n_tokens[1] = 6;
    r->n_bytes[0] = 31;
    r->n_bytes[1] = 29;
    r->is_greedy[1] = 1;
}

/* BBQ-style: choices [target, other, unknown], biased = target for negative questions. */
static void add_bbq(synth *s, const char *bench, const char *id, const char *lang, const char *cult, const char *cat,
                    quipu_condition cond, int neg, int label, int pred, const char *group)
{
    quipu_item *it = synth_add(s, bench, id, lang, cult, cat, QUIPU_ITEM_MC);
    it->n_choices = 3;
    it->label = label;
    it->condition = cond;
    it->polarity = neg ? QUIPU_POL_NEG : QUIPU_POL_NONNEG;
    it->target_choice = 0;
    it->other_choice = 1;
    it->unknown_choice = 2;
    it->biased_choice = neg ? 0 : 1;
    it->biased_mask = 1u << it->biased_choice;
    it->group = group ? xstrdup(group) : NULL;
    quipu_item_record *r = &s->recs[s->n - 1];
    r->n_choices = 3;
    for (int c = 0; c < 3; c++) {
        r->logprob[c] = c == pred ? -2.25 - 0.001 * (double)s->n : -5.5 - 0.3 * c;
        r->n_tokens[c] = 2 + c;
        r->n_bytes[c] = 9 + c;
        r->is_greedy[c] = c == pred;
    }
}

static void add_stereoset(synth *s, const char *bench, const char *id, const char *term, const char *roles,
                          double ls, double la, double lu)
{
    quipu_item *it = synth_add(s, bench, id, "en-US", "US", "race", QUIPU_ITEM_MC);
    it->n_choices = 3;
    memcpy(it->roles, roles, 3);
    it->group = xstrdup(term);
    quipu_item_record *r = &s->recs[s->n - 1];
    r->n_choices = 3;
    for (int c = 0; c < 3; c++) {
        r->logprob[c] = roles[c] == 's' ? ls : roles[c] == 'a' ? la : lu;
        r->n_tokens[c] = 4;
        r->n_bytes[c] = 20;
    }
}

/* ---- writing a run folder to docs/results.md ----------------------------------------------- */

typedef struct synth_model {
    const char *name;
    synth *s;
} synth_model;

static const char *cond_name(quipu_condition c) { return c == QUIPU_COND_AMBIG ? "ambig" : c == QUIPU_COND_DISAMBIG ? "disambig" : ""; }
static const char *pol_name(quipu_polarity p) { return p == QUIPU_POL_NEG ? "neg" : p == QUIPU_POL_NONNEG ? "nonneg" : ""; }

static json_t *jnum(double x) { return isnan(x) ? json_null() : json_real(x); }

static void write_run(const char *dir, const char *run_name, const synth_model *models, size_t n_models, int n_boot)
{
    mkdir(dir, 0775);
    quipu_metrics_options opt;
    quipu_metrics_options_init(&opt);
    opt.n_boot = n_boot;
    json_t *root = json_object(), *jm = json_array(), *jb = json_array(), *rows = json_array();
    json_object_set_new(root, "format", json_string("quipu-summary/1"));
    json_object_set_new(root, "run", json_string(run_name));
    json_object_set_new(root, "config_hash", json_string("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
    json_object_set_new(root, "seed", json_integer((json_int_t)opt.seed));
    json_object_set_new(root, "normalization", json_string("sum"));
    json_object_set_new(root, "bootstrap", json_integer(n_boot));
    json_object_set_new(root, "confidence", json_real(0.95));
    size_t cap = 1 << 16, len = 0;
    char *lines = malloc(cap);
    lines[0] = 0;
    for (size_t m = 0; m < n_models; m++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(models[m].name));
        json_object_set_new(o, "path", json_string("/models/x.gguf"));
        json_object_set_new(o, "architecture", json_string("llama"));
        json_array_append_new(jm, o);
        const synth *s = models[m].s;
        quipu_metric_results res;
        quipu_error e = {0};
        quipu_status st = quipu_metrics_compute(&res, s->items, s->n, s->recs, s->n, &opt, &e);
        CHECK_MSG(st == QUIPU_OK, "metrics: %s", e.msg);
        if (st) continue;
        for (size_t i = 0; i < res.n_rows; i++) {
            const quipu_metric_result *x = &res.rows[i];
            json_t *r = json_object();
            json_object_set_new(r, "model", json_string(models[m].name));
            json_object_set_new(r, "benchmark", json_string(x->benchmark));
            json_object_set_new(r, "language", json_string(x->language));
            json_object_set_new(r, "culture", json_string(x->culture));
            json_object_set_new(r, "category", json_string(x->category));
            json_object_set_new(r, "metric", json_string(x->metric));
            json_object_set_new(r, "value", jnum(x->value));
            json_object_set_new(r, "ci_low", jnum(x->ci_low));
            json_object_set_new(r, "ci_high", jnum(x->ci_high));
            json_object_set_new(r, "n", json_integer(x->n));
            if (x->note) json_object_set_new(r, "note", json_string(x->note));
            json_array_append_new(rows, r);
        }
        quipu_metric_results_free(&res);
        /* items lines, formatted as src/run.c writes them */
        for (size_t i = 0; i < s->n; i++) {
            const quipu_item *it = &s->items[i];
            const quipu_item_record *rc = &s->recs[i];
            json_t *l = json_object();
            json_object_set_new(l, "model", json_string(models[m].name));
            json_object_set_new(l, "benchmark", json_string(it->benchmark));
            json_object_set_new(l, "id", json_string(it->id));
            json_object_set_new(l, "language", json_string(it->language));
            json_object_set_new(l, "culture", json_string(it->culture));
            json_object_set_new(l, "category", json_string(it->category));
            json_object_set_new(l, "kind", json_string(it->kind == QUIPU_ITEM_PAIR ? "pair" : "mc"));
            json_object_set_new(l, "group", json_string(it->group ? it->group : ""));
            json_object_set_new(l, "label", json_integer(it->label));
            json_object_set_new(l, "condition", json_string(cond_name(it->condition)));
            json_object_set_new(l, "polarity", json_string(pol_name(it->polarity)));
            json_object_set_new(l, "unknown_choice", json_integer(it->unknown_choice));
            json_object_set_new(l, "target_choice", json_integer(it->target_choice));
            json_object_set_new(l, "other_choice", json_integer(it->other_choice));
            json_object_set_new(l, "biased_choice", json_integer(it->biased_choice));
            json_object_set_new(l, "biased_mask", json_integer(it->biased_mask));
            char roles[QUIPU_MAX_CHOICES + 1] = {0};
            memcpy(roles, it->roles, QUIPU_MAX_CHOICES);
            json_object_set_new(l, "roles", json_string(roles));
            json_object_set_new(l, "direction", json_integer(it->direction));
            json_t *lp = json_array(), *nt = json_array(), *nb = json_array(), *g = json_array();
            for (int c = 0; c < rc->n_choices; c++) {
                json_array_append_new(lp, json_real(rc->logprob[c]));
                json_array_append_new(nt, json_integer(rc->n_tokens[c]));
                json_array_append_new(nb, json_integer(rc->n_bytes[c]));
                json_array_append_new(g, json_integer(rc->is_greedy[c]));
            }
            json_object_set_new(l, "lp", lp);
            json_object_set_new(l, "nt", nt);
            json_object_set_new(l, "nb", nb);
            json_object_set_new(l, "g", g);
            char *t = json_dumps(l, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
            size_t tl = strlen(t);
            while (len + tl + 2 > cap) {
                cap *= 2;
                lines = realloc(lines, cap);
            }
            memcpy(lines + len, t, tl);
            len += tl;
            lines[len++] = '\n';
            lines[len] = 0;
            free(t);
            json_decref(l);
        }
    }
    json_t *b = json_object();
    json_object_set_new(b, "label", json_string("synthetic"));
    json_object_set_new(b, "name", json_string("synthetic"));
    json_object_set_new(b, "items", json_integer(n_models ? (json_int_t)models[0].s->n : 0));
    json_object_set_new(b, "rows_skipped", json_integer(0));
    json_array_append_new(jb, b);
    json_object_set_new(root, "models", jm);
    json_object_set_new(root, "benchmarks", jb);
    json_object_set_new(root, "metrics", rows);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    write_bytes(test_path(dir, "summary.json"), text, strlen(text));
    free(text);
    json_decref(root);
    write_zst(test_path(dir, "items.jsonl.zst"), lines);
    free(lines);
}

/* ---- the rich run: pairs in two cultures, BBQ-style MC, StereoSet-style MC, EsBBQ extras ---- */

static void make_rich(synth *s, int variant)
{
    char id[64];
    for (int i = 0; i < 12; i++) { /* crows-style pairs: US (2 categories) and FR (accents, '&') */
        snprintf(id, sizeof id, "pairs_demo:%04d", i);
        int fr = i >= 7;
        add_pair(s, "pairs_demo", id, fr ? "fr-FR" : "en-US", fr ? "FR" : "US",
                 fr ? "nationalité & origine" : (i % 2 ? "gender" : "race-color"), i % 3 == 0 ? -1 : 1,
                 -20.0 - i * 0.37 + (variant ? (i % 4 == 0 ? -3 : 0.5) : 0), -20.5 - (i % 5) * 0.41);
    }
    for (int i = 0; i < 16; i++) { /* BBQ-style: ES and US, ambiguous and disambiguated */
        snprintf(id, sizeof id, "mbbq_demo:%04d", i);
        int es = i % 2;
        quipu_condition cond = i < 8 ? QUIPU_COND_AMBIG : QUIPU_COND_DISAMBIG;
        int label = cond == QUIPU_COND_AMBIG ? 2 : i % 3 == 0;
        int pred = (i * 7 + variant) % 3;
        add_bbq(s, "mbbq_demo", id, es ? "es-ES" : "en-US", es ? "ES" : "US", i % 4 < 2 ? "Age" : "Gender_identity",
                cond, i % 5 != 0, label, pred, i % 3 ? "old; elderly" : NULL);
    }
    for (int i = 0; i < 6; i++) { /* StereoSet-style roles and target terms */
        snprintf(id, sizeof id, "stereoset_demo:%04d", i);
        const char *roles = i % 3 == 0 ? "sau" : i % 3 == 1 ? "ua s" : "asu";
        char r3[4] = {0};
        if (i % 3 == 1) memcpy(r3, "uas", 3);
        else memcpy(r3, roles, 3);
        add_stereoset(s, "stereoset_demo", id, i < 3 ? "Ethiopia" : "chess player", r3, -10 - i + variant * 0.25,
                      -10.5 - (i % 2), -9 - i * 0.5);
    }
    /* EsBBQ-style: a 3-choice item scored with 5 choices (extra "unknown" wordings) */
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "esbbq_demo:%04d", i);
        add_bbq(s, "esbbq_demo", id, "es-ES", "ES", "Edad", i < 2 ? QUIPU_COND_AMBIG : QUIPU_COND_DISAMBIG, 1,
                i < 2 ? 2 : 0, (i + variant) % 5 < 3 ? (i + variant) % 5 : 2, "personas mayores");
        quipu_item_record *r = &s->recs[s->n - 1];
        r->n_choices = 5;
        for (int c = 3; c < 5; c++) {
            r->logprob[c] = c == 3 + (i + variant) % 2 && (i + variant) % 5 >= 3 ? -1.0 : -7.0 - c;
            r->n_tokens[c] = 5;
            r->n_bytes[c] = 17;
        }
    }
}

static int same_str(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return !strcmp(a, b);
}

static void check_roundtrip(void)
{
    synth a = {0}, b = {0};
    make_rich(&a, 0);
    make_rich(&b, 1);
    const char *dir = tmp_path("rich");
    synth_model models[2] = {{"model-one", &a}, {"Modèle & deux", &b}};
    write_run(dir, "rich", models, 2, 200);

    quipu_run_data d;
    quipu_error e = {0};
    quipu_status st = quipu_run_read(dir, &d, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    if (st) {
        synth_free(&a);
        synth_free(&b);
        return;
    }
    CHECK(d.has_items);
    CHECK(!strcmp(d.name, "rich"));
    CHECK(d.opt.n_boot == 200 && d.opt.norm == QUIPU_NORM_SUM && d.opt.ci_level == 0.95 &&
          d.opt.seed == QUIPU_METRICS_DEFAULT_SEED);
    CHECK(d.n_models == 2);
    CHECK(d.n_item_lines == a.n + b.n);
    for (size_t m = 0; m < d.n_models && m < 2; m++) {
        const synth *s = models[m].s;
        const quipu_run_model *rm = &d.models[m];
        CHECK(!strcmp(rm->name, models[m].name));
        CHECK(!strcmp(rm->architecture, "llama"));
        CHECK_MSG(rm->n_items == s->n, "model %zu: %zu items read, %zu written", m, rm->n_items, s->n);
        for (size_t i = 0; i < rm->n_items && i < s->n; i++) {
            const quipu_item *x = &rm->items[i], *y = &s->items[i];
            const quipu_item_record *rx = &rm->records[i], *ry = &s->recs[i];
            int ok = same_str(x->id, y->id) && same_str(x->benchmark, y->benchmark) &&
                     same_str(x->language, y->language) && same_str(x->culture, y->culture) &&
                     same_str(x->category, y->category) && same_str(x->group, y->group) && x->kind == y->kind &&
                     x->direction == y->direction && x->label == y->label && x->condition == y->condition &&
                     x->polarity == y->polarity && x->unknown_choice == y->unknown_choice &&
                     x->target_choice == y->target_choice && x->other_choice == y->other_choice &&
                     x->biased_choice == y->biased_choice && x->biased_mask == y->biased_mask &&
                     !memcmp(x->roles, y->roles, sizeof x->roles) && !x->more && !x->context && !x->choices[0];
            /* the file has no item choice count: an MC item gets its record's (docs in run_read.h) */
            ok = ok && x->n_choices == (y->kind == QUIPU_ITEM_MC ? ry->n_choices : 0);
            ok = ok && rx->item_index == (int64_t)i && rx->n_choices == ry->n_choices &&
                 !memcmp(rx->logprob, ry->logprob, sizeof rx->logprob) &&
                 !memcmp(rx->n_tokens, ry->n_tokens, sizeof rx->n_tokens) &&
                 !memcmp(rx->n_bytes, ry->n_bytes, sizeof rx->n_bytes) &&
                 !memcmp(rx->is_greedy, ry->is_greedy, sizeof rx->is_greedy);
            CHECK_MSG(ok, "model %zu item %zu (%s) differs after reading back", m, i, y->id);
            char want[64];
            snprintf(want, sizeof want, "rich/items.jsonl.zst:%zu", i + 1 + (m ? a.n : 0));
            CHECK_MSG(x->source && strstr(x->source, want), "source '%s', want ...%s", x->source, want);
        }
        /* the metrics of the items read back equal summary.json's, bit for bit */
        quipu_metric_results res;
        quipu_metrics_options opt = d.opt;
        st = quipu_metrics_compute(&res, rm->items, rm->n_items, rm->records, rm->n_items, &opt, &e);
        CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
        if (st) continue;
        size_t k = 0, mism = 0;
        for (size_t i = 0; i < d.n_rows; i++) {
            const quipu_metric_row *r = &d.rows[i];
            if (strcmp(r->model, rm->name)) continue;
            if (k >= res.n_rows) {
                mism++;
                continue;
            }
            const quipu_metric_result *x = &res.rows[k++];
            int same = !strcmp(r->benchmark, x->benchmark) && !strcmp(r->culture, x->culture) &&
                       !strcmp(r->category, x->category) && !strcmp(r->metric, x->metric) && r->n == x->n &&
                       (isnan(r->value) ? isnan(x->value) : r->value == x->value) &&
                       (isnan(r->ci_low) ? isnan(x->ci_low) : r->ci_low == x->ci_low) &&
                       (isnan(r->ci_high) ? isnan(x->ci_high) : r->ci_high == x->ci_high) &&
                       same_str(r->note, x->note);
            if (!same) {
                mism++;
                fprintf(stderr, "row %s/%s/%s/%s: %.17g vs %.17g\n", r->benchmark, r->culture, r->category, r->metric,
                        r->value, x->value);
            }
        }
        CHECK_MSG(mism == 0 && k == res.n_rows, "model %s: %zu rows differ, %zu of %zu compared", rm->name, mism, k,
                  res.n_rows);
        /* every family is there */
        int fam = 0;
        for (size_t i = 0; i < res.n_rows; i++) {
            fam |= !strcmp(res.rows[i].metric, "pct_stereotype") << 0;
            fam |= !strcmp(res.rows[i].metric, "s_amb") << 1;
            fam |= !strcmp(res.rows[i].metric, "ss") << 2;
            fam |= !strcmp(res.rows[i].metric, "bias_score_ambig") << 3;
        }
        CHECK_MSG(fam == 15, "families present: %x", fam);
        quipu_metric_results_free(&res);
    }

    /* summary only */
    quipu_run_data d2;
    st = quipu_run_read_summary(dir, &d2, &e);
    CHECK(st == QUIPU_OK && !d2.has_items && d2.n_rows == d.n_rows && d2.models[0].n_items == 0);
    quipu_run_data_free(&d2);

    /* the report of one run with two models compares them item by item */
    const char *out = tmp_path("rich-report");
    const char *argv[] = {"report", dir, "--out", out, "--categories"};
    st = quipu_report_main(5, (char **)argv, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    char *md = slurp(test_path(out, "report.md"));
    CHECK_CONTAINS(md, "### model-one (A) vs Modèle & deux (B)");
    CHECK_CONTAINS(md, "Matched items: 38 (only in A: 0, only in B: 0)");
    CHECK_CONTAINS(md, "| fr-FR | FR | nationalité & origine | pct_stereotype |");
    CHECK_CONTAINS(md, "![pairs_demo \xE2\x80\x94 pct_stereotype](plots/pairs_demo__pct_stereotype.svg)");
    free(md);
    quipu_run_data_free(&d);
    synth_free(&a);
    synth_free(&b);
}

/* ---- the tiny hand-computed case (also the committed golden runs) -------------------------- */

/* crows_pairs_en, US: 8 pairs; A: more wins on 1..5, B: on 1, 2, 3, 6.
 *   pct_stereotype A = 5/8 = 62.5, B = 4/8 = 50, B − A = −12.5;
 *   McNemar "stereotype": both 3 (1-3), A only 2 (4, 5), B only 1 (6), neither 2 (7, 8);
 *   exact p = min(1, 2 · P(X ≤ 1 | Bin(3, ½))) = 2 · 4/8 = 1.
 * bbq, US, "Age", negative questions (biased = target = choice 0; unknown = 2):
 *   ambiguous a1 a2 a3 (label 2): A predicts 2 0 2, B predicts 0 0 2;
 *   disambiguated d1 d2 d3 (labels 0 1 0): A predicts 0 1 1, B predicts 0 0 1.
 *   acc_ambig A 2/3, B 1/3; McNemar "correct": both {a3, d1}, A only {a1, d2}, B only {}, neither
 *   {a2, d3}: p = 2 · P(X ≤ 0 | Bin(2, ½)) = 0.5. "biased_answer": A {a2, d1}, B {a1, a2, d1, d2}:
 *   both 2, A only 0, B only 2, neither 2, p = 0.5.
 *   s_amb A = (1 − 2/3)(2·1/1 − 1) = 1/3; B = (1 − 1/3)(2·2/2 − 1) = 2/3.
 * crows_pairs_fr, FR, "nationalité & origine": 4 pairs; A wins 1, 2; B wins 1, 2, 3. */
static void make_tiny(synth *s, int b)
{
    char id[32];
    for (int i = 1; i <= 8; i++) {
        snprintf(id, sizeof id, "crows_pairs_en:%04d", i);
        int wins = b ? (i <= 3 || i == 6) : i <= 5;
        add_pair(s, "crows_pairs_en", id, "en-US", "US", i <= 4 ? "race-color" : "gender", 1, wins ? -10 : -12, -11);
    }
    const int pa[2][6] = {{2, 0, 2, 0, 1, 1}, {0, 0, 2, 0, 0, 1}};
    const int label[6] = {2, 2, 2, 0, 1, 0};
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "bbq:Age:%d", i + 1);
        add_bbq(s, "bbq", id, "en-US", "US", "Age", i < 3 ? QUIPU_COND_AMBIG : QUIPU_COND_DISAMBIG, 1, label[i],
                pa[b][i], "old");
    }
    for (int i = 1; i <= 4; i++) {
        snprintf(id, sizeof id, "crows_pairs_fr:%04d", i);
        int wins = b ? i <= 3 : i <= 2;
        add_pair(s, "crows_pairs_fr", id, "fr-FR", "FR", "nationalité & origine", i % 2 ? 1 : -1, wins ? -30 : -33,
                 -31.5);
    }
}

static void make_tiny_runs(const char *dir_a, const char *dir_b)
{
    synth a = {0}, b = {0};
    make_tiny(&a, 0);
    make_tiny(&b, 1);
    synth_model ma = {"tiny", &a}, mb = {"tiny", &b};
    write_run(dir_a, "tiny-a", &ma, 1, 1000);
    write_run(dir_b, "tiny-b", &mb, 1, 1000);
    synth_free(&a);
    synth_free(&b);
}

/* A CSV line split on commas (the test's fields have no quotes). */
static int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = 0;
            f[n++] = p + 1;
        }
    return n;
}

/* Finds the comparison.csv line of (kind prefix, benchmark, category, metric); copies it. */
static int csv_find(const char *csv, const char *kind, const char *bench, const char *cat, const char *metric,
                    char *buf, size_t size, char **f)
{
    const char *p = csv;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n < size) {
            memcpy(buf, p, n);
            buf[n] = 0;
            int nf = csv_fields(buf, f, 32);
            if (nf == 23 && !strncmp(f[4], kind, strlen(kind)) && !strcmp(f[5], bench) && !strcmp(f[8], cat) &&
                !strcmp(f[9], metric))
                return 1;
        }
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* ---- a small XML checker ------------------------------------------------------------------- */

static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        int len = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 0;
        if (!len) return 0;
        for (int i = 1; i < len; i++)
            if ((s[i] & 0xC0) != 0x80) return 0;
        s += len;
    }
    return 1;
}

static int entity_ok(const char *p)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < 5; i++)
        if (!strncmp(p, ents[i], strlen(ents[i]))) return 1;
    if (p[1] == '#') {
        const char *q = p + 2;
        int hex = *q == 'x';
        if (hex) q++;
        const char *d = q;
        while (hex ? strchr("0123456789abcdefABCDEF", *q) && *q : (*q >= '0' && *q <= '9')) q++;
        return q > d && *q == ';';
    }
    return 0;
}

/* Well-formed (elements balanced, attributes quoted, '&' only as an entity, one <svg> root with the
 * SVG namespace and a viewBox)? Counts elements with class="dot". Returns NULL or the problem. */
static const char *xml_check(const char *s, size_t *n_dots)
{
    static char why[256];
    const char *stack[64];
    size_t lens[64];
    int depth = 0, roots = 0;
    *n_dots = 0;
    if (!valid_utf8((const unsigned char *)s)) return "invalid UTF-8";
    const char *p = s;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) return "unterminated XML declaration";
        p += 2;
    }
    while (*p) {
        if (*p != '<') {
            if (*p == '&' && !entity_ok(p)) return "bare '&' in text";
            if (*p == '>') return "bare '>' in text";
            if (depth == 0 && !(*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) return "text outside the root";
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            p = strstr(p, "-->");
            if (!p) return "unterminated comment";
            p += 3;
            continue;
        }
        if (p[1] == '/') {
            const char *n = p + 2;
            size_t len = strcspn(n, " \t\n>");
            if (depth == 0 || len != lens[depth - 1] || strncmp(n, stack[depth - 1], len)) {
                snprintf(why, sizeof why, "closing tag </%.*s> does not match", (int)len, n);
                return why;
            }
            depth--;
            p = strchr(n, '>');
            if (!p) return "unterminated closing tag";
            p++;
            continue;
        }
        const char *n = p + 1;
        size_t len = strcspn(n, " \t\n/>");
        if (len == 0) return "empty tag name";
        if (depth == 0) {
            if (roots++) return "two root elements";
            if (len != 3 || strncmp(n, "svg", 3)) return "root is not <svg>";
        }
        const char *q = n + len;
        int dot = 0, has_ns = 0, has_vb = 0;
        for (;;) {
            while (*q == ' ' || *q == '\t' || *q == '\n') q++;
            if (*q == '>' || (q[0] == '/' && q[1] == '>')) break;
            if (!*q) return "unterminated tag";
            const char *an = q;
            size_t al = strcspn(q, "= \t\n>");
            if (al == 0) return "bad attribute";
            q += al;
            if (*q != '=' || (q[1] != '"' && q[1] != '\'')) return "attribute without a quoted value";
            char quote = q[1];
            const char *v = q + 2, *ve = strchr(v, quote);
            if (!ve) return "unterminated attribute value";
            for (const char *c = v; c < ve; c++) {
                if (*c == '<') return "'<' in an attribute value";
                if (*c == '&' && !entity_ok(c)) return "bare '&' in an attribute value";
            }
            if (al == 5 && !strncmp(an, "class", 5) && ve - v == 3 && !strncmp(v, "dot", 3)) dot = 1;
            if (al == 5 && !strncmp(an, "xmlns", 5) && !strncmp(v, "http://www.w3.org/2000/svg", (size_t)(ve - v)))
                has_ns = 1;
            if (al == 7 && !strncmp(an, "viewBox", 7)) has_vb = 1;
            q = ve + 1;
        }
        if (depth == 0 && (!has_ns || !has_vb)) return "<svg> without xmlns or viewBox";
        *n_dots += (size_t)dot;
        if (*q == '/') {
            p = q + 2;
            continue;
        }
        if (depth == 64) return "too deep";
        stack[depth] = n;
        lens[depth] = len;
        depth++;
        p = q + 1;
    }
    if (depth) return "unclosed elements";
    if (!roots) return "no root element";
    return NULL;
}

static int have_python(void) { return system("python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1") == 0; }

/* Checks one SVG: well-formed, `want` markers (SIZE_MAX: any), python3 parses it. */
static void check_svg(const char *path, size_t want)
{
    char *s = slurp(path);
    CHECK_MSG(s != NULL, "%s: not written", path);
    if (!s) return;
    size_t dots = 0;
    const char *why = xml_check(s, &dots);
    CHECK_MSG(why == NULL, "%s: %s", path, why);
    if (want != SIZE_MAX) CHECK_MSG(dots == want, "%s: %zu markers, want %zu", path, dots, want);
    CHECK(strstr(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"") == s);
    free(s);
    if (have_python()) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd,
                 "python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                 "sys.exit(0 if r.tag == '{http://www.w3.org/2000/svg}svg' and "
                 "len([e for e in r.iter() if e.get('class') == 'dot']) == int(sys.argv[2]) else 1)\" '%s' %zu",
                 path, want == SIZE_MAX ? dots : want);
        CHECK_MSG(system(cmd) == 0, "%s: python3 xml.etree does not parse it or counts other markers", path);
    }
}

#define CHECK_FIND(csv, kind, bench, cat, metric)                                                  \
    find_row(csv, kind, bench, cat, metric, buf, sizeof buf, f)
static int find_row(const char *csv, const char *kind, const char *bench, const char *cat, const char *metric,
                    char *buf, size_t size, char **f)
{
    int ok = csv_find(csv, kind, bench, cat, metric, buf, size, f);
    CHECK_MSG(ok, "comparison.csv has no %s row for %s / %s / %s", kind, bench, cat, metric);
    return ok;
}

static void check_tiny_report(const char *dir_a, const char *dir_b, const char *out)
{
    quipu_error e = {0};
    const char *argv[] = {"report", dir_a, dir_b, "--out", out};
    quipu_status st = quipu_report_main(5, (char **)argv, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    if (st) return;
    char *csv = slurp(test_path(out, "comparison.csv"));
    CHECK(csv != NULL);
    if (!csv) return;
    char buf[1024], *f[32];
    CHECK(!strncmp(csv, "run_a,model_a,run_b,model_b,kind,benchmark,", 43));
    if (CHECK_FIND(csv, "paired_bootstrap", "crows_pairs_en", "all", "pct_stereotype")) {
        CHECK(!strcmp(f[10], "8"));
        CHECK_MSG(atof(f[11]) == 62.5 && atof(f[12]) == 50 && atof(f[13]) == -12.5, "A %s B %s diff %s", f[11], f[12],
                  f[13]);
        CHECK(atof(f[14]) <= -12.5 && atof(f[15]) >= -12.5); /* the interval holds the difference */
    }
    if (CHECK_FIND(csv, "mcnemar_exact", "crows_pairs_en", "all", "stereotype")) {
        CHECK_MSG(!strcmp(f[17], "3") && !strcmp(f[18], "2") && !strcmp(f[19], "1") && !strcmp(f[20], "2"),
                  "n11 %s n10 %s n01 %s n00 %s", f[17], f[18], f[19], f[20]);
        CHECK(atof(f[16]) == 1.0);
    }
    if (CHECK_FIND(csv, "paired_bootstrap", "bbq", "all", "acc_ambig")) {
        CHECK(fabs(atof(f[11]) - 2.0 / 3) < 1e-12 && fabs(atof(f[12]) - 1.0 / 3) < 1e-12 &&
              fabs(atof(f[13]) + 1.0 / 3) < 1e-12);
    }
    if (CHECK_FIND(csv, "paired_bootstrap", "bbq", "all", "s_amb")) {
        CHECK(fabs(atof(f[11]) - 1.0 / 3) < 1e-12 && fabs(atof(f[12]) - 2.0 / 3) < 1e-12);
    }
    if (CHECK_FIND(csv, "mcnemar_exact", "bbq", "all", "correct")) {
        CHECK_MSG(!strcmp(f[17], "2") && !strcmp(f[18], "2") && !strcmp(f[19], "0") && !strcmp(f[20], "2"),
                  "n11 %s n10 %s n01 %s n00 %s", f[17], f[18], f[19], f[20]);
        CHECK(atof(f[16]) == 0.5);
    }
    if (CHECK_FIND(csv, "mcnemar_exact", "bbq", "all", "biased_answer")) {
        CHECK_MSG(!strcmp(f[17], "2") && !strcmp(f[18], "0") && !strcmp(f[19], "2") && !strcmp(f[20], "2"),
                  "n11 %s n10 %s n01 %s n00 %s", f[17], f[18], f[19], f[20]);
        CHECK(atof(f[16]) == 0.5);
    }
    if (CHECK_FIND(csv, "mcnemar_exact", "crows_pairs_fr", "nationalité & origine", "stereotype")) {
        CHECK(!strcmp(f[17], "2") && !strcmp(f[18], "0") && !strcmp(f[19], "1") && !strcmp(f[20], "1"));
    }
    free(csv);

    char *md = slurp(test_path(out, "report.md"));
    CHECK_CONTAINS(md, "| en-US | US | pct_stereotype | 62.5 [");
    CHECK_CONTAINS(md, "(n=8) | 50.0 [");
    CHECK_CONTAINS(md, "| crows_pairs_en | en-US | US | pct_stereotype | 8 | 62.5 | 50.0 | -12.5 [");
    CHECK_CONTAINS(md, "| crows_pairs_en | en-US | US | stereotype | 8 | 3 | 2 | 1 | 2 | exact binomial | 1.000 |");
    CHECK_CONTAINS(md, "| bbq | en-US | US | correct | 6 | 2 | 2 | 0 | 2 | exact binomial | 0.500 |");
    CHECK_CONTAINS(md, "Matched items: 18 (only in A: 0, only in B: 0)");
    CHECK_CONTAINS(md, "(plots/bbq__s_amb.svg)");
    CHECK(md && !strstr(md, "| gender |")); /* categories only with --categories */
    free(md);

    /* plots: 2 series (the runs share their one model); crows_pairs_en rows US + 2 categories,
     * bbq US + Age, crows_pairs_fr FR + its category */
    check_svg(test_path(out, "plots/crows_pairs_en__pct_stereotype.svg"), 6);
    check_svg(test_path(out, "plots/bbq__s_dis.svg"), 4);
    check_svg(test_path(out, "plots/bbq__s_amb.svg"), 4);
    check_svg(test_path(out, "plots/crows_pairs_fr__pct_stereotype.svg"), 4);
    char *svg = slurp(test_path(out, "plots/crows_pairs_fr__pct_stereotype.svg"));
    CHECK_CONTAINS(svg, "nationalité &amp; origine");
    CHECK_CONTAINS(svg, ">run-a<"); /* the folder names the run in legends */
    CHECK_CONTAINS(svg, "50 = no preference");
    free(svg);
    CHECK(!test_file_exists(test_path(out, "plots/bbq__bias_score_ambig.svg")));
}

/* ---- errors -------------------------------------------------------------------------------- */

/* Runs the report command line; checks it fails with a one-line message containing `want`. */
static void expect_report_error(const char *want, int argc, const char **argv)
{
    quipu_error e = {0};
    quipu_status st = quipu_report_main(argc, (char **)argv, &e);
    CHECK_MSG(st != QUIPU_OK, "expected an error containing '%s'", want);
    CHECK_MSG(strstr(e.msg, want) != NULL, "message '%s' does not contain '%s'", e.msg, want);
    CHECK_MSG(!strchr(e.msg, '\n'), "message '%s' is more than one line", e.msg);
}

static void expect_read_error(const char *dir, const char *want)
{
    quipu_run_data d;
    quipu_error e = {0};
    quipu_status st = quipu_run_read(dir, &d, &e);
    CHECK_MSG(st != QUIPU_OK, "%s: read, expected '%s'", dir, want);
    CHECK_MSG(strstr(e.msg, want) != NULL, "message '%s' does not contain '%s'", e.msg, want);
    CHECK_MSG(!strchr(e.msg, '\n'), "message '%s' is more than one line", e.msg);
    if (st == QUIPU_OK) quipu_run_data_free(&d);
}

/* A run folder whose items.jsonl.zst holds `text` (summary.json copied from `from`). */
static const char *bad_run(const char *name, const char *from, const char *text)
{
    const char *dir = tmp_path(name);
    mkdir(dir, 0775);
    char *sum = slurp(test_path(from, "summary.json"));
    write_bytes(test_path(dir, "summary.json"), sum, sum ? strlen(sum) : 0);
    free(sum);
    if (text) write_zst(test_path(dir, "items.jsonl.zst"), text);
    return dir;
}

#define GOOD_PAIR                                                                                                   \
    "{\"model\": \"tiny\", \"benchmark\": \"crows_pairs_en\", \"id\": \"crows_pairs_en:%04d\", \"language\": "       \
    "\"en-US\", \"culture\": \"US\", \"category\": \"gender\", \"kind\": \"pair\", \"group\": \"\", \"label\": -1, " \
    "\"condition\": \"\", \"polarity\": \"\", \"unknown_choice\": -1, \"target_choice\": -1, \"other_choice\": -1, " \
    "\"biased_choice\": -1, \"biased_mask\": 0, \"roles\": \"\", \"direction\": 1, \"lp\": [-10.5, -11], "          \
    "\"nt\": [3, 3], \"nb\": [12, 12], \"g\": [0, 1]}"

static void check_errors(const char *run_a, const char *run_c)
{
    /* the report's command line */
    const char *nope = tmp_path("no-such-run");
    expect_report_error("no-such-run: no such run folder", 2, (const char *[]){"report", nope});
    const char *empty = tmp_path("empty-dir");
    mkdir(empty, 0775);
    expect_report_error("empty-dir/summary.json: missing (not a quipu run folder?)", 2, (const char *[]){"report", empty});
    const char *file = tmp_path("a-file");
    write_bytes(file, "x", 1);
    expect_report_error("a-file: not a folder", 2, (const char *[]){"report", file});
    expect_report_error("unknown metric 'stereotype_pct'", 4,
                        (const char *[]){"report", "--metric", "stereotype_pct", run_a});
    expect_report_error("unknown metric 'bogus'", 3, (const char *[]){"report", "--metric=ss,bogus", run_a});
    expect_report_error("no run folders given", 1, (const char *[]){"report"});
    expect_report_error("unknown option '--frobnicate'", 3, (const char *[]){"report", "--frobnicate", run_a});
    expect_report_error("--out needs a value", 3, (const char *[]){"report", run_a, "--out"});
    expect_report_error("a-file: exists and is not a folder", 4,
                        (const char *[]){"report", run_a, "--out", test_path(file, "out")});
    quipu_error e = {0};
    CHECK(quipu_report_main(2, (char *[]){"report", "--help"}, &e) == QUIPU_OK);

    /* summary.json problems */
    const char *bs = tmp_path("bad-summary");
    mkdir(bs, 0775);
    write_bytes(test_path(bs, "summary.json"), "{\"format\": \"quipu-summary/1\",\n \"models\": [}\n", 44);
    expect_read_error(bs, "bad-summary/summary.json:2:");
    write_bytes(test_path(bs, "summary.json"), "{\"format\": \"quipu-summary/9\"}", 29);
    expect_read_error(bs, "bad-summary/summary.json: field 'format' is \"quipu-summary/9\", expected \"quipu-summary/1\"");
    const char *s3 = "{\"format\": \"quipu-summary/1\", \"models\": [{\"name\": \"m\"}], \"metrics\": "
                     "[{\"model\": \"m\", \"benchmark\": \"b\", \"language\": \"en\", \"culture\": \"US\", "
                     "\"category\": \"all\", \"metric\": \"acc\", \"value\": \"high\", \"n\": 3}]}";
    write_bytes(test_path(bs, "summary.json"), s3, strlen(s3));
    expect_read_error(bs, "bad-summary/summary.json: metrics[0]: field 'value' must be a number or null");

    /* items.jsonl.zst problems, each named RUN/items.jsonl.zst:LINE */
    char good[2048], text[8192];
    const char *d = bad_run("garbage", run_a, NULL);
    write_bytes(test_path(d, "items.jsonl.zst"), "this is not zstd at all", 23);
    expect_read_error(d, "garbage/items.jsonl.zst:1: not zstd data or corrupt");
    d = bad_run("empty-zst", run_a, NULL);
    write_bytes(test_path(d, "items.jsonl.zst"), "", 0);
    expect_read_error(d, "empty-zst/items.jsonl.zst:1: empty file");
    /* cut short: the valid stream of run A without its last bytes */
    d = bad_run("truncated", run_a, NULL);
    {
        FILE *f = fopen(test_path(run_a, "items.jsonl.zst"), "rb");
        char z[65536];
        size_t n = f ? fread(z, 1, sizeof z, f) : 0;
        if (f) fclose(f);
        CHECK(n > 100);
        write_bytes(test_path(d, "items.jsonl.zst"), z, n - 40);
        expect_read_error(d, "truncated/items.jsonl.zst:");
        quipu_run_data rd;
        CHECK(quipu_run_read(d, &rd, &e) != QUIPU_OK && (strstr(e.msg, "cut short") || strstr(e.msg, "corrupt")));
        quipu_error_clear(&e);
    }
    snprintf(good, sizeof good, GOOD_PAIR "\n" GOOD_PAIR "\n", 1, 2);
    snprintf(text, sizeof text, "%s{\"model\": \"tiny\", \"id\": \n", good);
    expect_read_error(bad_run("bad-json", run_a, text), "bad-json/items.jsonl.zst:3: invalid JSON");
    snprintf(text, sizeof text, GOOD_PAIR "\n%s", 1, "{\"model\": \"tiny\"}\n");
    expect_read_error(bad_run("missing-field", run_a, text), "missing-field/items.jsonl.zst:2: field 'benchmark' is missing");
    snprintf(good, sizeof good, GOOD_PAIR, 5);
    char *lbl = strstr(good, "\"label\": -1");
    memcpy(lbl, "\"label\": \"\"", 11);
    snprintf(text, sizeof text, "%s\n", good);
    expect_read_error(bad_run("bad-type", run_a, text), "bad-type/items.jsonl.zst:1: field 'label' must be an integer");
    snprintf(good, sizeof good, GOOD_PAIR, 5);
    memcpy(strstr(good, "\"tiny\""), "\"tinx\"", 6);
    snprintf(text, sizeof text, "%s\n", good);
    expect_read_error(bad_run("bad-model", run_a, text), "bad-model/items.jsonl.zst:1: model 'tinx' is not among");
    snprintf(good, sizeof good, GOOD_PAIR, 5);
    memcpy(strstr(good, "[-10.5, -11]"), "[-10.5     ]", 12);
    snprintf(text, sizeof text, "\n%s\n", good);
    expect_read_error(bad_run("bad-lp", run_a, text), "bad-lp/items.jsonl.zst:2: field 'lp' has 1 values; a pair has 2");
    snprintf(good, sizeof good, GOOD_PAIR, 5);
    memcpy(strstr(good, "\"pair\""), "\"pear\"", 6);
    snprintf(text, sizeof text, "%s\n", good);
    expect_read_error(bad_run("bad-kind", run_a, text), "bad-kind/items.jsonl.zst:1: field 'kind' is \"pear\"");
    /* a line over the limit */
    {
        size_t big = QUIPU_RUN_MAX_LINE + 10;
        char *t = malloc(big + 2);
        memset(t, ' ', big);
        t[big] = '\n';
        t[big + 1] = 0;
        expect_read_error(bad_run("long-line", run_a, t), "long-line/items.jsonl.zst:1: line longer than");
        free(t);
    }
    /* CRLF line ends and a last line without '\n' are fine */
    snprintf(text, sizeof text, GOOD_PAIR "\r\n" GOOD_PAIR, 1, 2);
    {
        quipu_run_data rd;
        quipu_status st = quipu_run_read(bad_run("crlf", run_a, text), &rd, &e);
        CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
        if (!st) {
            CHECK(rd.n_models == 1 && rd.models[0].n_items == 2 && rd.models[0].records[1].logprob[1] == -11 &&
                  rd.models[0].records[1].is_greedy[1] == 1);
            quipu_run_data_free(&rd);
        }
    }

    /* a corrupted run in a report is an error naming the file and line */
    expect_report_error("bad-json/items.jsonl.zst:3: invalid JSON", 3,
                        (const char *[]){"report", run_a, tmp_path("bad-json")});

    /* runs that share no items: said in the report, not an error */
    const char *out = tmp_path("disjoint-report");
    quipu_status st = quipu_report_main(4, (char *[]){"report", (char *)run_a, (char *)run_c, "--out=" }, &e);
    CHECK(st != QUIPU_OK && strstr(e.msg, "--out needs a non-empty value"));
    quipu_error_clear(&e);
    st = quipu_report_main(4, (char *[]){"report", (char *)run_a, (char *)run_c, (char *)"--out"}, &e);
    CHECK(st != QUIPU_OK);
    quipu_error_clear(&e);
    char outopt[1100];
    snprintf(outopt, sizeof outopt, "--out=%s", out);
    st = quipu_report_main(4, (char *[]){"report", (char *)run_a, (char *)run_c, outopt}, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    char *md = slurp(test_path(out, "report.md"));
    CHECK_CONTAINS(md, "share no items (matched by benchmark and id): no paired tests");
    free(md);
    char *csv = slurp(test_path(out, "comparison.csv"));
    CHECK(csv && !strchr(strchr(csv, '\n') + 1, '\n')); /* the header alone */
    free(csv);

    /* a run without items.jsonl.zst: tables and plots, no paired tests */
    const char *noitems = bad_run("no-items", run_a, NULL);
    out = tmp_path("noitems-report");
    st = quipu_report_main(5, (char *[]){"report", (char *)run_a, (char *)noitems, "--out", (char *)out}, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    md = slurp(test_path(out, "report.md"));
    CHECK_CONTAINS(md, "no-items has no items.jsonl.zst: no paired tests");
    free(md);

    /* --metric picks the metrics (any of them, not only the headline ones) */
    out = tmp_path("metric-report");
    st = quipu_report_main(7, (char *[]){"report", (char *)run_a, "--metric", "acc_ambig", "--metric", "likelihood_diff",
                                         "--out=" "/dev/null/x"},
                           &e);
    CHECK(st != QUIPU_OK && strstr(e.msg, "/dev/null"));
    quipu_error_clear(&e);
    st = quipu_report_main(6, (char *[]){"report", (char *)run_a, "--metric", "acc_ambig,likelihood_diff", "--out",
                                         (char *)out},
                           &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    md = slurp(test_path(out, "report.md"));
    CHECK_CONTAINS(md, "| en-US | US | acc_ambig | 0.667 [");
    CHECK_CONTAINS(md, "| en-US | US | likelihood_diff |");
    CHECK(md && !strstr(md, "pct_stereotype |"));
    free(md);
    check_svg(test_path(out, "plots/bbq__acc_ambig.svg"), 2);
    check_svg(test_path(out, "plots/crows_pairs_en__likelihood_diff.svg"), 3);
}

/* ---- the plot functions on their own ------------------------------------------------------- */

static void check_plot_unit(void)
{
    /* hostile labels: markup, quotes, invalid UTF-8, control characters; a missing value */
    const quipu_plot_row rows[3] = {{"Côte d'Ivoire <CI> & \"friends\"", 0}, {"bad \xff\xfe utf8 \x01 ctl", 1},
                                    {"한국 (ko-KR)", 0}};
    const double v1[3] = {55, NAN, 48}, l1[3] = {50, NAN, 40}, h1[3] = {60, NAN, 56};
    const double v2[3] = {61, 52, 47}, l2[3] = {57, NAN, 44}, h2[3] = {65, NAN, 50};
    const int64_t n[3] = {100, 20, 80};
    const quipu_plot_series ser[2] = {{"run <a> & b", v1, l1, h1, n}, {"Modèle 'deux'", v2, l2, h2, NULL}};
    quipu_plot p = {.title = "x & y", .subtitle = "<sub>", .x_label = "pct_stereotype", .footnote = "note",
                    .reference = 50, .reference_label = "50 = no preference", .lo = 0, .hi = 100, .decimals = 1,
                    .rows = rows, .n_rows = 3};
    const char *path = tmp_path("unit.svg");
    quipu_error e = {0};
    CHECK(quipu_plot_write_svg(path, &p, ser, 2, &e) == QUIPU_OK);
    check_svg(path, 5);
    char *s = slurp(path);
    CHECK_CONTAINS(s, "Côte d&apos;Ivoire &lt;CI&gt; &amp; &quot;friends&quot;");
    CHECK_CONTAINS(s, "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8   ctl");
    CHECK_CONTAINS(s, "한국 (ko-KR)");
    CHECK_CONTAINS(s, ">n/a</text>");
    CHECK_CONTAINS(s, "55.0 [50.0, 60.0], n = 100");
    free(s);
    /* nothing to draw is an error, not an empty file */
    quipu_plot p0 = p;
    p0.n_rows = 0;
    CHECK(quipu_plot_write_svg(tmp_path("none.svg"), &p0, ser, 2, &e) == QUIPU_ERR_INVALID);
    quipu_error_clear(&e);
    CHECK(quipu_plot_write_svg(tmp_path("none.svg"), &p, ser, 0, &e) == QUIPU_ERR_INVALID);
    quipu_error_clear(&e);
    CHECK(quipu_plot_write_svg(test_path(tmp_path("no/such/dir"), "x.svg"), &p, ser, 2, &e) == QUIPU_ERR_IO);
    quipu_error_clear(&e);

    /* quipu_plots_write on in-memory rows: names safe for any filesystem and unique ignoring case */
    quipu_metric_row r[] = {
        {"m", "Bench/..:*?", "en-US", "US", "all", "ss", 52, 50, 54, 10, NULL},
        {"m", "bench/..:*?", "en-US", "US", "all", "ss", 53, 50, 56, 10, NULL},
        {"m", "Bench/..:*?", "en-US", "US", "all", "lms", 90, 88, 92, 10, NULL},
        {"m", "b2", "es-ES", "ES", "all", "s_dis", NAN, NAN, NAN, 0, "no disambiguated items"},
        {"m", "b2", "es-ES", "ES", "Edad", "s_dis", 0.2, -0.1, 0.4, 5, NULL},
    };
    quipu_metric_row_set set = {NULL, r, 5, 0.95};
    quipu_plot_files pf;
    const char *pdir = tmp_path("unit-plots/deep");
    CHECK(quipu_plots_write(pdir, &set, 1, NULL, 0, &pf, &e) == QUIPU_OK);
    CHECK_MSG(pf.n == 3, "%zu plots", pf.n);
    if (pf.n == 3) {
        CHECK_MSG(!strcmp(pf.files[0].file, "Bench_.._____ss.svg"), "%s", pf.files[0].file);
        CHECK_MSG(!strcmp(pf.files[1].file, "bench_.._____ss-2.svg"), "%s", pf.files[1].file);
        CHECK(!strcmp(pf.files[2].file, "b2__s_dis.svg") && pf.files[2].n_points == 1);
        check_svg(test_path(pdir, pf.files[2].file), 1);
    }
    quipu_plot_files_free(&pf);
    CHECK(quipu_plots_write(pdir, &set, 1, NULL, QUIPU_PLOTS_CULTURES_ONLY, &pf, &e) == QUIPU_OK);
    CHECK(pf.n == 3 && pf.files[2].n_points == 0);
    quipu_plot_files_free(&pf);
    const char *only_lms[] = {"lms", NULL};
    CHECK(quipu_plots_write(pdir, &set, 1, only_lms, 0, &pf, &e) == QUIPU_OK && pf.n == 1);
    quipu_plot_files_free(&pf);

    /* every metric quipu computes has a display entry; the headline ones are flagged */
    for (int k = 0; quipu_config_builtin_metrics[k]; k++)
        CHECK_MSG(quipu_metric_display_find(quipu_config_builtin_metrics[k]) != NULL, "%s",
                  quipu_config_builtin_metrics[k]);
    for (int k = 0; quipu_headline_metrics[k]; k++)
        CHECK(quipu_metric_display_find(quipu_headline_metrics[k])->headline);
}

/* ---- runs written by `quipu run` itself ---------------------------------------------------- */

/* Two real runs on tiny checkpoints (two cultures, pairs, SESGO and StereoSet MC): the metrics
 * recomputed from items.jsonl.zst equal summary.json's bit for bit, and the report pairs every
 * item. Skipped (with a note) when the binary, the datasets or the tiny models are missing. */
static void check_real_runs(void)
{
    const char *bin = getenv("QUIPU_BIN"), *src = getenv("QUIPU_SOURCE_DIR"), *shared = getenv("QUIPU_SHARED");
    char path[2048];
    if (!bin || !src || !shared) {
        printf("note: QUIPU_BIN/QUIPU_SOURCE_DIR/QUIPU_SHARED not set: real runs not checked\n");
        return;
    }
    snprintf(path, sizeof path, "%s/datasets/crows-pairs", shared);
    if (!test_file_exists(path) || !test_file_exists(bin)) {
        printf("note: no datasets or no quipu binary: real runs not checked\n");
        return;
    }
    const char *models[2] = {"tiny-mistral", "tiny-llama"};
    char cmd[8192];
    for (int m = 0; m < 2; m++) {
        snprintf(cmd, sizeof cmd,
                 "set -e; d='%s/%s'; mkdir -p \"$d\"; cp '%s/tests/models/%s'/* \"$d/\"; "
                 "t=$(cat '%s/tests/models/%s/tokenizer.source'); cp \"%s/tokenizers/$t/tokenizer.json\" \"$d/\"; "
                 "if [ -f \"%s/tokenizers/$t/tokenizer_config.json\" ]; then "
                 "cp \"%s/tokenizers/$t/tokenizer_config.json\" \"$d/\"; fi",
                 g_tmp, models[m], src, models[m], src, models[m], shared, shared, shared);
        if (system(cmd) != 0) {
            printf("note: could not stage %s: real runs not checked\n", models[m]);
            return;
        }
        char cfg[4096];
        snprintf(cfg, sizeof cfg,
                 "name: real-%d\noutput: %s/real-%d\nseed: 7\ndatasets_dir: %s/datasets\nmodels:\n"
                 "  - path: %s/%s\n    name: tiny\nbenchmarks:\n"
                 "  - name: crows_pairs_en\n    limit: 16\n    sample: spread\n"
                 "  - name: crows_pairs_fr\n    limit: 10\n    sample: spread\n"
                 "  - name: sesgo\n    limit: 12\n    sample: spread\n"
                 "  - name: stereoset_intra\n    limit: 6\n"
                 "metrics:\n  include: all\n  bootstrap: 100\nscoring:\n  batch_tokens: 256\nprogress_interval: 0\n",
                 m, g_tmp, m, shared, g_tmp, models[m]);
        char cfg_path[1200];
        snprintf(cfg_path, sizeof cfg_path, "%s/real-%d.yaml", g_tmp, m);
        write_bytes(cfg_path, cfg, strlen(cfg));
        snprintf(cmd, sizeof cmd, "'%s' run '%s' > '%s/real-%d.out' 2>&1", bin, cfg_path, g_tmp, m);
        int rc = system(cmd);
        CHECK_MSG(rc == 0, "quipu run %s failed (see %s/real-%d.out)", cfg_path, g_tmp, m);
        if (rc != 0) return;
    }
    char da[1200], db[1200];
    snprintf(da, sizeof da, "%s/real-0", g_tmp);
    snprintf(db, sizeof db, "%s/real-1", g_tmp);
    quipu_run_data d;
    quipu_error e = {0};
    quipu_status st = quipu_run_read(da, &d, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    if (st) return;
    CHECK(d.n_models == 1 && d.has_items && d.models[0].n_items == 44 && d.n_rows > 0);
    size_t n_pct = 0; /* crows_pairs_en's pct_stereotype rows: US and each category sampled */
    for (size_t i = 0; i < d.n_rows; i++)
        n_pct += !strcmp(d.rows[i].benchmark, "crows_pairs_en") && !strcmp(d.rows[i].metric, "pct_stereotype");
    CHECK(n_pct >= 3);
    quipu_metric_results res;
    st = quipu_metrics_compute(&res, d.models[0].items, d.models[0].n_items, d.models[0].records, d.models[0].n_items,
                               &d.opt, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    if (!st) {
        size_t mism = 0;
        CHECK_MSG(res.n_rows == d.n_rows, "%zu rows recomputed, %zu in summary.json", res.n_rows, d.n_rows);
        for (size_t i = 0; i < res.n_rows && i < d.n_rows; i++) {
            const quipu_metric_row *r = &d.rows[i];
            const quipu_metric_result *x = &res.rows[i];
            int same = !strcmp(r->benchmark, x->benchmark) && !strcmp(r->culture, x->culture) &&
                       !strcmp(r->category, x->category) && !strcmp(r->metric, x->metric) && r->n == x->n &&
                       (isnan(r->value) ? isnan(x->value) : r->value == x->value) &&
                       (isnan(r->ci_low) ? isnan(x->ci_low) : r->ci_low == x->ci_low) &&
                       (isnan(r->ci_high) ? isnan(x->ci_high) : r->ci_high == x->ci_high);
            mism += !same;
        }
        CHECK_MSG(mism == 0, "%zu metric rows of a real run differ when recomputed from items.jsonl.zst", mism);
        quipu_metric_results_free(&res);
    }
    quipu_run_data_free(&d);
    const char *out = tmp_path("real-report");
    st = quipu_report_main(5, (char *[]){"report", da, db, "--out", (char *)out}, &e);
    CHECK_MSG(st == QUIPU_OK, "%s", e.msg);
    char *md = slurp(test_path(out, "report.md"));
    CHECK_CONTAINS(md, "Matched items: 44 (only in A: 0, only in B: 0)");
    CHECK_CONTAINS(md, "| fr-FR | FR | pct_stereotype |");
    free(md);
    check_svg(test_path(out, "plots/crows_pairs_en__pct_stereotype.svg"), 2 * n_pct); /* the same items in both runs */
    check_svg(test_path(out, "plots/sesgo__sesgo_bias_ambig.svg"), SIZE_MAX);
    check_svg(test_path(out, "plots/stereoset_intra__ss.svg"), SIZE_MAX);
}

int main(void)
{
    const char *gold = getenv("QUIPU_REPORT_WRITE_GOLDEN");
    if (gold && *gold) {
        mkdir(gold, 0775);
        make_tiny_runs(test_path(gold, "run-a"), test_path(gold, "run-b"));
        printf("wrote %s/run-a and %s/run-b\n", gold, gold);
        return 0;
    }
    snprintf(g_tmp, sizeof g_tmp, "%s/report-%d", test_env("QUIPU_TEST_TMP", "/tmp"), (int)getpid());
    mkdir(test_env("QUIPU_TEST_TMP", "/tmp"), 0775);
    mkdir(g_tmp, 0775);

    check_plot_unit();
    check_roundtrip();

    /* the tiny case, freshly written */
    char dir_a[1100], dir_b[1100], dir_c[1100];
    snprintf(dir_a, sizeof dir_a, "%s", tmp_path("run-a"));
    snprintf(dir_b, sizeof dir_b, "%s", tmp_path("run-b"));
    make_tiny_runs(dir_a, dir_b);
    check_tiny_report(dir_a, dir_b, tmp_path("tiny-report"));

    /* a run whose item ids share nothing with run-a */
    snprintf(dir_c, sizeof dir_c, "%s", tmp_path("run-c"));
    {
        synth c = {0};
        add_pair(&c, "crows_pairs_en", "crows_pairs_en:9001", "en-US", "US", "gender", 1, -1, -2);
        add_pair(&c, "crows_pairs_en", "crows_pairs_en:9002", "en-US", "US", "gender", 1, -3, -2);
        synth_model mc = {"tiny", &c};
        write_run(dir_c, "tiny-c", &mc, 1, 100);
        synth_free(&c);
    }
    check_errors(dir_a, dir_c);
    check_real_runs();

    /* the committed golden runs give the same report */
    const char *src = test_env("QUIPU_SOURCE_DIR", NULL);
    if (src) {
        char ga[1200], gb[1200];
        snprintf(ga, sizeof ga, "%s/tests/golden/report/run-a", src);
        snprintf(gb, sizeof gb, "%s/tests/golden/report/run-b", src);
        CHECK_MSG(test_file_exists(ga) && test_file_exists(gb), "%s, %s: missing", ga, gb);
        check_tiny_report(ga, gb, tmp_path("golden-report"));
    }

    if (!quipu_test_failures && !getenv("QUIPU_TEST_KEEP")) rm_rf(g_tmp);
    return test_finish("test_report");
}
