/* metrics_spread.c — how much a metric moves across the templates (wordings) of one group: min,
 * max, mean, sample standard deviation and range over the per-template values, with percentile
 * bootstrap intervals of sd and range (docs/metrics.md "Spread across templates"). T templates,
 * B replicates; the replicates are the per-template rows' own (metrics.c template_breakdown). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"

void quipu_spread_stats(const double *x, size_t n, size_t *t, double *mean, double *sd, double *min,
                        double *max, long *imin, long *imax)
{
    size_t k = 0;
    double sum = 0.0, lo = NAN, hi = NAN;
    long il = -1, ih = -1;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) continue;
        sum += x[i];
        if (k == 0 || x[i] < lo) lo = x[i], il = (long)i;
        if (k == 0 || x[i] > hi) hi = x[i], ih = (long)i;
        k++;
    }
    double mu = k ? sum / (double)k : NAN, ss = 0.0;
    /* two passes: the squared deviations from the mean, not sum(x²) − n·mean², which cancels */
    for (size_t i = 0; i < n && k >= 2; i++)
        if (!isnan(x[i])) ss += (x[i] - mu) * (x[i] - mu);
    *t = k;
    *mean = mu;
    *sd = k >= 2 ? sqrt(ss / (double)(k - 1)) : NAN;
    *min = lo;
    *max = hi;
    *imin = il;
    *imax = ih;
}

static char *dup_or_null(const char *s)
{
    if (!s) return NULL;
    size_t k = strlen(s) + 1;
    char *d = malloc(k);
    if (d) memcpy(d, s, k);
    return d;
}

void mx_spread_rows_free(quipu_template_spread *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].benchmark);
        free(rows[i].language);
        free(rows[i].culture);
        free(rows[i].min_template);
        free(rows[i].max_template);
    }
    free(rows);
}

static const char *const few_note = "fewer than 2 templates with a defined value";
static const char *const partial_note = "some bootstrap replicates undefined; intervals from the rest";
static const char *const no_ci_note = "every bootstrap replicate undefined";

int mx_spread_group(quipu_template_spread *out, const mx_group *tg, size_t n_t, const quipu_metric_result *rows,
                    double *const *reps, size_t B, double level)
{
    double *v = quipu_malloc_array(n_t, sizeof *v);         /* [T] point values, template order */
    double *vr = quipu_malloc_array(n_t, sizeof *vr);       /* [T] one replicate's values */
    double *sdr = reps ? quipu_malloc_array(B, sizeof *sdr) : NULL; /* [B] sd of each replicate */
    double *rgr = reps ? quipu_malloc_array(B, sizeof *rgr) : NULL; /* [B] range of each replicate */
    int bad = !v || !vr || (reps && (!sdr || !rgr));
    size_t off = 0;
    for (int m = 0; m < MX_N_METRICS && !bad; m++) {
        if (!(mx_metrics[m].family & tg[0].family)) continue;
        quipu_template_spread *s = &out[off];
        memset(s, 0, sizeof *s);
        s->metric = mx_metrics[m].name;
        s->n_templates_all = (int64_t)n_t;
        s->benchmark = dup_or_null(tg[0].benchmark);
        s->language = dup_or_null(tg[0].language);
        s->culture = dup_or_null(tg[0].culture);
        if (!s->benchmark || !s->language || !s->culture) bad = 1;
        for (size_t k = 0; k < n_t; k++) v[k] = rows[tg[k].row0 + off].value;
        size_t t;
        long imin, imax;
        quipu_spread_stats(v, n_t, &t, &s->mean, &s->sd, &s->min, &s->max, &imin, &imax);
        s->n_templates = (int64_t)t;
        s->range = t >= 2 ? s->max - s->min : NAN;
        s->sd_ci_low = s->sd_ci_high = s->range_ci_low = s->range_ci_high = NAN;
        if (imin >= 0 && !(s->min_template = dup_or_null(tg[imin].template_id))) bad = 1;
        if (imax >= 0 && !(s->max_template = dup_or_null(tg[imax].template_id))) bad = 1;
        off++;
        if (t < 2) {
            s->note = few_note;
            continue;
        }
        if (!reps) continue;
        /* replicate r: every template's replicate r (its own items resampled), over the templates
         * whose point value is defined; undefined if any of them is undefined in that replicate */
        for (size_t r = 0; r < B; r++) {
            size_t nv = 0;
            int undefined = 0;
            for (size_t k = 0; k < n_t; k++) {
                if (isnan(v[k])) continue;
                double x = reps[k][(size_t)m * B + r];
                if (isnan(x)) undefined = 1;
                vr[nv++] = x;
            }
            if (undefined) {
                sdr[r] = rgr[r] = NAN;
                continue;
            }
            size_t tr;
            double mu, lo, hi;
            long il, ih;
            quipu_spread_stats(vr, nv, &tr, &mu, &sdr[r], &lo, &hi, &il, &ih);
            rgr[r] = hi - lo;
        }
        size_t k = mx_interval(sdr, B, level, &s->sd_ci_low, &s->sd_ci_high);
        mx_interval(rgr, B, level, &s->range_ci_low, &s->range_ci_high);
        if (k == 0) s->note = no_ci_note;
        else if (k < B) s->note = partial_note;
    }
    free(v);
    free(vr);
    free(sdr);
    free(rgr);
    return bad ? -1 : 0;
}

static int put(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}
static json_t *num(double x) { return isnan(x) ? json_null() : json_real(x); }
static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *quipu_template_spread_to_json(const char *model, const quipu_template_spread *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    if (model) bad |= put(o, "model", json_string(model));
    bad |= put(o, "benchmark", json_string(s->benchmark));
    bad |= put(o, "language", json_string(s->language));
    bad |= put(o, "culture", json_string(s->culture));
    bad |= put(o, "metric", json_string(s->metric));
    bad |= put(o, "n_templates", json_integer(s->n_templates));
    bad |= put(o, "n_templates_all", json_integer(s->n_templates_all));
    bad |= put(o, "mean", num(s->mean));
    bad |= put(o, "sd", num(s->sd));
    bad |= put(o, "sd_ci_low", num(s->sd_ci_low));
    bad |= put(o, "sd_ci_high", num(s->sd_ci_high));
    bad |= put(o, "min", num(s->min));
    bad |= put(o, "min_template", str_or_null(s->min_template));
    bad |= put(o, "max", num(s->max));
    bad |= put(o, "max_template", str_or_null(s->max_template));
    bad |= put(o, "range", num(s->range));
    bad |= put(o, "range_ci_low", num(s->range_ci_low));
    bad |= put(o, "range_ci_high", num(s->range_ci_high));
    if (s->note) bad |= put(o, "note", json_string(s->note));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
