/* metrics_compare.c — two runs on the same items: per group, the paired-bootstrap difference
 * B − A of every metric and McNemar's test on per-item decisions. Items are matched by
 * (benchmark, id); the groups and their order are those of quipu_metrics_compute on run A's
 * tags, restricted to the matched items. */
#include "metrics_internal.h"

#include <math.h>
#include <stddef.h>
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

/* The rows of one group for one run B: the differences of every metric (bootstrap interval and
 * p from x, the B − A replicates, laid out as mx_bootstrap lays them out; NULL without a
 * bootstrap) and the McNemar tests of its decisions. */
static void fill_group(quipu_comparison *out, const mx_group *g, size_t diff0, size_t test0, const double *va,
                       const int64_t *na, const char *const *notea, const double *vb, const char *const *noteb,
                       const double *x_all, const pair_ref *pairs, const mx_outcome *oca, const mx_outcome *ocb,
                       const quipu_metrics_options *opt)
{
    size_t B = (size_t)opt->n_boot, row = diff0;
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
        if (x_all && !isnan(d->diff)) {
            double *x = (double *)x_all + (size_t)m * B;
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
}

/* One run B matched with run A: its outcomes, the matched pairs and their groups. */
typedef struct cmp_side {
    mx_outcome *ocb;
    unsigned *famb, *famp;
    mx_entry *entb, *entp;
    pair_ref *pairs;
    size_t k;         /* matched pairs */
    mx_grouping g;
    size_t *test0;    /* first test row of each group */
    ptrdiff_t lead;   /* the first side with the same matched items of A and families (so the
                         same groups, the same draws), or -1 when this side is the first */
} cmp_side;

static void side_free(cmp_side *s)
{
    free(s->ocb);
    free(s->famb);
    free(s->famp);
    free(s->entb);
    free(s->entp);
    free(s->pairs);
    free(s->test0);
    mx_grouping_free(&s->g);
}

/* Up to this many runs share one pass of a group's draws (memory: sides · B · metrics doubles). */
enum { SHARE_MAX = 32 };

/* Group q for the runs mem[0..nm) that share their groups: point values, one bootstrap whose
 * draws serve A and every run (each side's sums in draw order, as with A and that run alone,
 * so the same bits as comparing them one at a time), then each run's rows. 0 or -1 (memory). */
static int eval_group_shared(quipu_comparison *out, const cmp_side *sd, const size_t *mem, size_t nm, size_t q,
                             const mx_outcome *oca, const quipu_metrics_options *opt)
{
    const cmp_side *lead = &sd[mem[0]];
    const mx_group *g = &lead->g.groups[q];
    size_t B = (size_t)opt->n_boot, M = MX_N_METRICS, nta = 0;
    if (g->family & QUIPU_FAMILY_STEREOSET)
        for (size_t i = 0; i < g->n; i++) {
            size_t ta = (size_t)oca[lead->pairs[g->e[i].ref].a].term + 1;
            if (ta > nta) nta = ta;
        }
    double va[MX_N_METRICS];
    int64_t na[MX_N_METRICS];
    const char *notea[MX_N_METRICS];
    mx_accum aa;
    if (mx_accum_init(&aa, nta)) return -1;
    for (size_t i = 0; i < g->n; i++) mx_accum_add(&aa, &oca[lead->pairs[g->e[i].ref].a]);
    mx_eval(&aa, g->family, va, na, notea);
    mx_accum_free(&aa);

    int bad = 0;
    mx_classes cl[1 + SHARE_MAX];
    double *reps = NULL, *rp[1 + SHARE_MAX];
    const mx_outcome **po = NULL;
    int boot = B > 0 && g->n > 0;
    if (boot) {
        reps = quipu_malloc_array((1 + (nm < SHARE_MAX ? nm : SHARE_MAX)) * B * M, sizeof *reps);
        po = quipu_malloc_array(g->n, sizeof *po);
        if (!reps || !po) bad = 1;
        for (size_t i = 0; !bad && i < g->n; i++) po[i] = &oca[lead->pairs[g->e[i].ref].a];
        if (!bad) bad = mx_classes_build(&cl[0], po, g->n, g->family) != 0;
        if (bad) boot = 0;
    }
    for (size_t c0 = 0; c0 < nm && !bad; c0 += SHARE_MAX) {
        size_t nc = nm - c0 < SHARE_MAX ? nm - c0 : SHARE_MAX, built = 0;
        if (boot) {
            for (; built < nc; built++) {
                const cmp_side *sb = &sd[mem[c0 + built]];
                for (size_t i = 0; i < g->n; i++) po[i] = &sb->ocb[sb->pairs[g->e[i].ref].b];
                if (mx_classes_build(&cl[1 + built], po, g->n, g->family)) break;
            }
            bad = built < nc;
            for (size_t s = 0; s <= nc; s++) rp[s] = reps + s * B * M;
            if (!bad)
                bad = mx_bootstrap(cl, (int)(1 + nc), g->family, B, quipu_seed_mix(opt->seed ^ PAIRED_STREAM, mx_group_key(g)),
                                   opt->threads, rp) != 0;
            for (size_t s = 0; s < built; s++) mx_classes_free(&cl[1 + s]);
        }
        for (size_t c = 0; c < nc && !bad; c++) {
            size_t bi = mem[c0 + c];
            const cmp_side *sb = &sd[bi];
            size_t ntb = 0;
            if (g->family & QUIPU_FAMILY_STEREOSET)
                for (size_t i = 0; i < g->n; i++) {
                    size_t tb = (size_t)sb->ocb[sb->pairs[g->e[i].ref].b].term + 1;
                    if (tb > ntb) ntb = tb;
                }
            double vb[MX_N_METRICS];
            int64_t nb[MX_N_METRICS];
            const char *noteb[MX_N_METRICS];
            mx_accum ab;
            if (mx_accum_init(&ab, ntb)) {
                bad = 1;
                break;
            }
            for (size_t i = 0; i < g->n; i++) mx_accum_add(&ab, &sb->ocb[sb->pairs[g->e[i].ref].b]);
            mx_eval(&ab, g->family, vb, nb, noteb);
            mx_accum_free(&ab);
            double *x = NULL;
            if (boot) { /* B − A into run B's replicates, which are not read again */
                x = rp[1 + c];
                for (size_t k = 0; k < B * M; k++) x[k] = x[k] - rp[0][k];
            }
            fill_group(&out[bi], g, sb->g.groups[q].row0, sb->test0[q], va, na, notea, vb, noteb, x, sb->pairs, oca,
                       sb->ocb, opt);
        }
    }
    if (boot) mx_classes_free(&cl[0]);
    free(po);
    free(reps);
    return bad ? -1 : 0;
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

/* Run B `bi` matched with A (entries enta sorted): pairs, groups and the output rows with their
 * tags. */
static quipu_status match_side(quipu_comparison *out, cmp_side *sd, const quipu_run_items *b, const mx_entry *enta,
                               size_t n_records_a, const unsigned *fama, const quipu_metrics_options *opt, quipu_error *err)
{
    quipu_status st = mx_prepare(b->items, b->n_items, b->records, b->n_records, opt->norm, &sd->ocb, &sd->famb, &sd->entb, err);
    if (st) return st;
    size_t n_records_b = b->n_records;
    mx_entry *entb = sd->entb;
    /* match by (benchmark, id): both sides sorted, then merged */
    qsort(entb, n_records_b, sizeof *entb, cmp_bench_id_entry);
    size_t np = n_records_a < n_records_b ? n_records_a : n_records_b;
    sd->pairs = quipu_calloc_array(np ? np : 1, sizeof *sd->pairs);
    sd->entp = quipu_calloc_array(np ? np : 1, sizeof *sd->entp);
    sd->famp = quipu_calloc_array(np ? np : 1, sizeof *sd->famp);
    if (!sd->pairs || !sd->entp || !sd->famp) return quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory matching %zu items", np);
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
        unsigned f = fama[enta[i].ref] & sd->famb[entb[j].ref];
        if (ia->kind != ib->kind || f == 0)
            return quipu_error_set(err, QUIPU_ERR_INVALID,
                                   "compare: item %s of %s is a different kind of item in the two runs (%s, %s)",
                                   ia->id, ia->benchmark, ia->source ? ia->source : "?", ib->source ? ib->source : "?");
        sd->pairs[k].a = enta[i].ref;
        sd->pairs[k].b = entb[j].ref;
        sd->entp[k].item = ia;
        sd->entp[k].ref = k;
        sd->famp[k] = f;
        k++;
        i++;
        j++;
    }
    sd->k = k;
    out->n_only_a += (int64_t)(n_records_a - i);
    out->n_only_b += (int64_t)(n_records_b - j);
    out->n_matched = (int64_t)k;

    mx_grouping *g = &sd->g;
    st = mx_grouping_build(g, sd->entp, k, sd->famp, err);
    if (st) return st;
    sd->test0 = quipu_calloc_array(g->n_groups ? g->n_groups : 1, sizeof *sd->test0);
    if (!sd->test0) return quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory");
    size_t nd = 0, nt = 0;
    for (size_t q = 0; q < g->n_groups; q++) {
        g->groups[q].row0 = nd;
        sd->test0[q] = nt;
        nd += mx_family_count(g->groups[q].family);
        nt += count_bits(decisions_of(g->groups[q].family));
    }
    out->diffs = quipu_calloc_array(nd ? nd : 1, sizeof *out->diffs);
    out->tests = quipu_calloc_array(nt ? nt : 1, sizeof *out->tests);
    if (!out->diffs || !out->tests) return quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory for %zu rows", nd + nt);
    out->n_diffs = nd;
    out->n_tests = nt;
    for (size_t q = 0; q < g->n_groups; q++) {
        const mx_group *gr = &g->groups[q];
        size_t nr = mx_family_count(gr->family), ntq = count_bits(decisions_of(gr->family));
        for (size_t r = gr->row0; r < gr->row0 + nr; r++) {
            quipu_paired_diff *d = &out->diffs[r];
            if (mx_copy_tags(gr, &d->benchmark, &d->language, &d->culture, &d->category))
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory");
        }
        for (size_t r = sd->test0[q]; r < sd->test0[q] + ntq; r++) {
            quipu_paired_test *t = &out->tests[r];
            if (mx_copy_tags(gr, &t->benchmark, &t->language, &t->culture, &t->category))
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory");
        }
    }
    return QUIPU_OK;
}

/* The same matched items of A, in the same order, with the same families: then the groups are
 * the same too (they are built from A's items and the families alone). */
static int same_matching(const cmp_side *x, const cmp_side *y)
{
    if (x->k != y->k) return 0;
    for (size_t i = 0; i < x->k; i++)
        if (x->pairs[i].a != y->pairs[i].a || x->famp[i] != y->famp[i]) return 0;
    return 1;
}

quipu_status quipu_metrics_compare_many(quipu_comparison *out, const quipu_run_items *a, const quipu_run_items *b, size_t nb,
                                        const quipu_metrics_options *opt, quipu_error *err)
{
    for (size_t i = 0; i < nb; i++) memset(&out[i], 0, sizeof out[i]);
    quipu_metrics_options defaults;
    if (!opt) {
        quipu_metrics_options_init(&defaults);
        opt = &defaults;
    }
    for (size_t i = 0; i < nb; i++) out[i].opt = *opt;
    quipu_status st = mx_check_options(opt, err);
    if (st || nb == 0) return st;

    mx_outcome *oca = NULL;
    unsigned *fama = NULL;
    mx_entry *enta = NULL;
    size_t *mem = NULL;
    cmp_side *sd = quipu_calloc_array(nb, sizeof *sd);
    if (!sd) return quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory");
    st = mx_prepare(a->items, a->n_items, a->records, a->n_records, opt->norm, &oca, &fama, &enta, err);
    if (st) goto fail;
    qsort(enta, a->n_records, sizeof *enta, cmp_bench_id_entry);
    for (size_t i = 0; i < nb && !st; i++) {
        st = match_side(&out[i], &sd[i], &b[i], enta, a->n_records, fama, opt, err);
        sd[i].lead = -1;
        for (size_t j = 0; j < i && !st && sd[i].lead < 0; j++)
            if (sd[j].lead < 0 && same_matching(&sd[j], &sd[i])) sd[i].lead = (ptrdiff_t)j;
    }
    if (st) goto fail;
    mem = quipu_calloc_array(nb, sizeof *mem);
    if (!mem) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nb && !st; i++) {
        if (sd[i].lead >= 0) continue;
        size_t nm = 0;
        mem[nm++] = i;
        for (size_t j = i + 1; j < nb; j++)
            if (sd[j].lead == (ptrdiff_t)i) mem[nm++] = j;
        for (size_t q = 0; q < sd[i].g.n_groups && !st; q++) /* replicates run in parallel inside */
            if (eval_group_shared(out, sd, mem, nm, q, oca, opt))
                st = quipu_error_set(err, QUIPU_ERR_NOMEM, "compare: out of memory evaluating %zu groups", sd[i].g.n_groups);
    }
fail:
    for (size_t i = 0; i < nb; i++) side_free(&sd[i]);
    free(sd);
    free(mem);
    free(oca);
    free(fama);
    free(enta);
    if (st)
        for (size_t i = 0; i < nb; i++) quipu_comparison_free(&out[i]);
    return st;
}

quipu_status quipu_metrics_compare(quipu_comparison *out,
                                   const quipu_item *items_a, size_t n_items_a,
                                   const quipu_item_record *records_a, size_t n_records_a,
                                   const quipu_item *items_b, size_t n_items_b,
                                   const quipu_item_record *records_b, size_t n_records_b,
                                   const quipu_metrics_options *opt, quipu_error *err)
{
    quipu_run_items a = {items_a, n_items_a, records_a, n_records_a}, b = {items_b, n_items_b, records_b, n_records_b};
    return quipu_metrics_compare_many(out, &a, &b, 1, opt, err);
}
