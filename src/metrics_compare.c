/* metrics_compare.c — two runs on the same items: per group, the paired-bootstrap difference
 * B − A of every metric and McNemar's test on per-item decisions. Items are matched by
 * (benchmark, id); the groups and their order are those of quipu_metrics_compute on run A's
 * tags, restricted to the matched items. */
#include "metrics_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* no fused multiply-add: same bits on every target */
#endif

/* A distinct stream from the single-run intervals of the same group and seed. */
#define PAIRED_STREAM UINT64_C(0x70616972656421) /* "paired!" */

enum { DEC_STEREOTYPE, DEC_CORRECT, DEC_BIASED, N_DEC };
static const char *const dec_names[N_DEC] = {"stereotype", "correct", "biased_answer"};

static unsigned decisions_of(unsigned family)
{
    if (family & (QUIPU_FAMILY_PAIRS | QUIPU_FAMILY_STEREOSET)) return 1u << DEC_STEREOTYPE;
    unsigned d = 0;
    if (family & QUIPU_FAMILY_MC) d |= 1u << DEC_CORRECT;
    if (family & QUIPU_FAMILY_BBQ) d |= 1u << DEC_BIASED;
    return d;
}

static size_t count_bits(unsigned x)
{
    size_t k = 0;
    for (; x; x &= x - 1) k++;
    return k;
}

/* The decision d of one outcome: 1, 0, or -1 when it does not apply. */
static int decide(const mx_outcome *o, int d)
{
    switch (d) {
    case DEC_STEREOTYPE:
        if (o->kind == MX_KIND_PAIR) return (o->flags & MX_F_MORE_WINS) != 0;
        if (o->kind == MX_KIND_STEREOSET) return (o->flags & MX_F_S_GT_A) != 0;
        return -1;
    case DEC_CORRECT:
        if (o->kind != MX_KIND_MC || !(o->flags & MX_F_HAS_LABEL)) return -1;
        return (o->flags & MX_F_CORRECT) != 0;
    case DEC_BIASED:
        if (o->kind != MX_KIND_MC) return -1;
        return (o->flags & MX_F_BIASED) != 0;
    }
    return -1;
}

typedef struct pair_ref {
    size_t a, b; /* record indices in run A and run B */
} pair_ref;

static int cmp_bench_id_entry(const void *pa, const void *pb)
{
    const mx_entry *a = pa, *b = pb;
    int c = strcmp(mx_str(a->item->benchmark), mx_str(b->item->benchmark));
    return c ? c : strcmp(mx_str(a->item->id), mx_str(b->item->id));
}

static const char *const partial_note = "some bootstrap replicates undefined; interval from the rest";

static int eval_paired_group(quipu_comparison *out, const mx_group *g, size_t diff0, size_t test0,
                             const pair_ref *pairs, const mx_outcome *oca, const mx_outcome *ocb,
                             const quipu_metrics_options *opt)
{
    double va[MX_N_METRICS], vb[MX_N_METRICS];
    int64_t na[MX_N_METRICS], nb[MX_N_METRICS];
    const char *notea[MX_N_METRICS], *noteb[MX_N_METRICS];
    size_t nta = 0, ntb = 0;
    if (g->family & QUIPU_FAMILY_STEREOSET)
        for (size_t i = 0; i < g->n; i++) {
            const pair_ref *p = &pairs[g->e[i].ref];
            if ((size_t)oca[p->a].term + 1 > nta) nta = (size_t)oca[p->a].term + 1;
            if ((size_t)ocb[p->b].term + 1 > ntb) ntb = (size_t)ocb[p->b].term + 1;
        }
    mx_accum aa, ab;
    if (mx_accum_init(&aa, nta)) return -1;
    if (mx_accum_init(&ab, ntb)) {
        mx_accum_free(&aa);
        return -1;
    }
    for (size_t i = 0; i < g->n; i++) {
        const pair_ref *p = &pairs[g->e[i].ref];
        mx_accum_add(&aa, &oca[p->a]);
        mx_accum_add(&ab, &ocb[p->b]);
    }
    mx_eval(&aa, g->family, va, na, notea);
    mx_eval(&ab, g->family, vb, nb, noteb);

    size_t B = (size_t)opt->n_boot;
    double *reps = NULL;
    if (B > 0 && g->n > 0) {
        reps = quipu_malloc_array(3 * B * MX_N_METRICS, sizeof *reps); /* A, B, then B − A */
        const mx_outcome **pa = quipu_malloc_array(g->n, sizeof *pa), **pb = quipu_malloc_array(g->n, sizeof *pb);
        mx_classes cl[2];
        int bad = !reps || !pa || !pb;
        if (!bad) {
            for (size_t i = 0; i < g->n; i++) {
                pa[i] = &oca[pairs[g->e[i].ref].a];
                pb[i] = &ocb[pairs[g->e[i].ref].b];
            }
            bad = mx_classes_build(&cl[0], pa, g->n, g->family);
            if (!bad && mx_classes_build(&cl[1], pb, g->n, g->family)) {
                mx_classes_free(&cl[0]);
                bad = 1;
            }
        }
        free(pa);
        free(pb);
        if (!bad) {
            double *rp[2] = {reps, reps + B * MX_N_METRICS};
            bad = mx_bootstrap(cl, 2, g->family, B, quipu_seed_mix(opt->seed ^ PAIRED_STREAM, mx_group_key(g)),
                               opt->threads, rp);
            mx_classes_free(&cl[0]);
            mx_classes_free(&cl[1]);
        }
        if (bad) {
            free(reps);
            mx_accum_free(&aa);
            mx_accum_free(&ab);
            return -1;
        }
        double *d = reps + 2 * B * MX_N_METRICS;
        for (size_t k = 0; k < B * MX_N_METRICS; k++) d[k] = reps[B * MX_N_METRICS + k] - reps[k];
    }
    size_t row = diff0;
    for (int m = 0; m < MX_N_METRICS; m++) {
        if (!(mx_metrics[m].family & g->family)) continue;
        quipu_paired_diff *d = &out->diffs[row++];
        d->metric = mx_metrics[m].name;
        d->n = na[m];
        d->value_a = va[m];
        d->value_b = vb[m];
        d->diff = vb[m] - va[m];
        d->ci_low = d->ci_high = d->p_boot = NAN;
        d->note = notea[m] ? notea[m] : noteb[m];
        if (reps && !isnan(d->diff)) {
            double *x = reps + 2 * B * MX_N_METRICS + (size_t)m * B;
            size_t le = 0, ge = 0;
            for (size_t r = 0; r < B; r++) {
                le += x[r] <= 0;
                ge += x[r] >= 0;
            }
            size_t k = mx_interval(x, B, opt->ci_level, &d->ci_low, &d->ci_high);
            if (k > 0) {
                double p = 2.0 * (double)(le < ge ? le : ge) / (double)k;
                d->p_boot = p < 1.0 ? p : 1.0;
                if (k < B) d->note = partial_note;
            }
        }
    }
    free(reps);
    mx_accum_free(&aa);
    mx_accum_free(&ab);

    size_t t = test0;
    unsigned decs = decisions_of(g->family);
    for (int dk = 0; dk < N_DEC; dk++) {
        if (!(decs & (1u << dk))) continue;
        quipu_paired_test *pt = &out->tests[t++];
        pt->decision = dec_names[dk];
        for (size_t i = 0; i < g->n; i++) {
            const pair_ref *p = &pairs[g->e[i].ref];
            int x = decide(&oca[p->a], dk), y = decide(&ocb[p->b], dk);
            if (x < 0 || y < 0) continue;
            pt->n++;
            if (x && y) pt->n11++;
            else if (x) pt->n10++;
            else if (y) pt->n01++;
            else pt->n00++;
        }
        quipu_mcnemar_test(&pt->test, pt->n10, pt->n01, QUIPU_MCNEMAR_EXACT_BELOW);
    }
    return 0;
}

void quipu_comparison_free(quipu_comparison *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_diffs; i++) {
        free(c->diffs[i].benchmark);
        free(c->diffs[i].language);
        free(c->diffs[i].culture);
        free(c->diffs[i].category);
    }
    for (size_t i = 0; i < c->n_tests; i++) {
        free(c->tests[i].benchmark);
        free(c->tests[i].language);
        free(c->tests[i].culture);
        free(c->tests[i].category);
    }
    free(c->diffs);
    free(c->tests);
    c->diffs = NULL;
    c->tests = NULL;
    c->n_diffs = c->n_tests = 0;
}

quipu_status quipu_metrics_compare(quipu_comparison *out,
                                   const quipu_item *items_a, size_t n_items_a,
                                   const quipu_item_record *records_a, size_t n_records_a,
                                   const quipu_item *items_b, size_t n_items_b,
                                   const quipu_item_record *records_b, size_t n_records_b,
                                   const quipu_metrics_options *opt, quipu_error *err)
{
    memset(out, 0, sizeof *out);
    quipu_metrics_options defaults;
    if (!opt) {
        quipu_metrics_options_init(&defaults);
        opt = &defaults;
    }
    out->opt = *opt;
    quipu_status st = mx_check_options(opt, err);
    if (st) return st;

    mx_outcome *oca = NULL, *ocb = NULL;
    unsigned *fama = NULL, *famb = NULL, *famp = NULL;
    mx_entry *enta = NULL, *entb = NULL, *entp = NULL;
    pair_ref *pairs = NULL;
    size_t *test0 = NULL;
    mx_grouping g;
    memset(&g, 0, sizeof g);
    st = mx_prepare(items_a, n_items_a, records_a, n_records_a, opt->norm, &oca, &fama, &enta, err);
    if (!st) st = mx_prepare(items_b, n_items_b, records_b, n_records_b, opt->norm, &ocb, &famb, &entb, err);
    if (st) goto fail;

    /* match by (benchmark, id): both sides sorted, then merged */
    qsort(enta, n_records_a, sizeof *enta, cmp_bench_id_entry);
    qsort(entb, n_records_b, sizeof *entb, cmp_bench_id_entry);
    size_t np = n_records_a < n_records_b ? n_records_a : n_records_b;
    pairs = quipu_calloc_array(np ? np : 1, sizeof *pairs);
    entp = quipu_calloc_array(np ? np : 1, sizeof *entp);
    famp = quipu_calloc_array(np ? np : 1, sizeof *famp);
    if (!pairs || !entp || !famp) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory matching %zu items", np);
        goto fail;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < n_records_a && j < n_records_b) {
        int c = cmp_bench_id_entry(&enta[i], &entb[j]);
        if (c < 0) {
            out->n_only_a++;
            i++;
            continue;
        }
        if (c > 0) {
            out->n_only_b++;
            j++;
            continue;
        }
        const quipu_item *ia = enta[i].item, *ib = entb[j].item;
        if (ia->variant > 1) { /* a second prompt variant: compared in the first's rows only (metrics.c) */
            i++;
            j++;
            continue;
        }
        unsigned f = fama[enta[i].ref] & famb[entb[j].ref];
        if (ia->kind != ib->kind || f == 0) {
            st = quipu_error_set(err, QUIPU_ERR_INVALID,
                                 "compare: item %s of %s is a different kind of item in the two runs (%s, %s)",
                                 ia->id, ia->benchmark, ia->source ? ia->source : "?", ib->source ? ib->source : "?");
            goto fail;
        }
        pairs[k].a = enta[i].ref;
        pairs[k].b = entb[j].ref;
        entp[k].item = ia;
        entp[k].ref = k;
        famp[k] = f;
        k++;
        i++;
        j++;
    }
    out->n_only_a += (int64_t)(n_records_a - i);
    out->n_only_b += (int64_t)(n_records_b - j);
    out->n_matched = (int64_t)k;

    st = mx_grouping_build(&g, entp, k, famp, err);
    if (st) goto fail;
    test0 = quipu_calloc_array(g.n_groups ? g.n_groups : 1, sizeof *test0);
    if (!test0) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory");
        goto fail;
    }
    size_t nd = 0, nt = 0;
    for (size_t q = 0; q < g.n_groups; q++) {
        g.groups[q].row0 = nd;
        test0[q] = nt;
        nd += mx_family_count(g.groups[q].family);
        nt += count_bits(decisions_of(g.groups[q].family));
    }
    out->diffs = quipu_calloc_array(nd ? nd : 1, sizeof *out->diffs);
    out->tests = quipu_calloc_array(nt ? nt : 1, sizeof *out->tests);
    if (!out->diffs || !out->tests) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory for %zu rows", nd + nt);
        goto fail;
    }
    out->n_diffs = nd;
    out->n_tests = nt;
    int nomem = 0;
    for (size_t q = 0; q < g.n_groups && !nomem; q++) { /* replicates run in parallel inside */
        const mx_group *gr = &g.groups[q];
        size_t nr = mx_family_count(gr->family), ntq = count_bits(decisions_of(gr->family));
        for (size_t r = gr->row0; r < gr->row0 + nr; r++) {
            quipu_paired_diff *d = &out->diffs[r];
            if (mx_copy_tags(gr, &d->benchmark, &d->language, &d->culture, &d->category)) nomem = 1;
        }
        for (size_t r = test0[q]; r < test0[q] + ntq; r++) {
            quipu_paired_test *t = &out->tests[r];
            if (mx_copy_tags(gr, &t->benchmark, &t->language, &t->culture, &t->category)) nomem = 1;
        }
        if (eval_paired_group(out, gr, gr->row0, test0[q], pairs, oca, ocb, opt)) nomem = 1;
    }
    if (nomem) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory evaluating %zu groups", g.n_groups);
fail:
    mx_grouping_free(&g);
    free(test0);
    free(oca);
    free(ocb);
    free(fama);
    free(famb);
    free(famp);
    free(enta);
    free(entb);
    free(entp);
    free(pairs);
    if (st) quipu_comparison_free(out);
    return st;
}
