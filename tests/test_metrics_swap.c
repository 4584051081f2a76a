/* test_metrics_swap.c — name-swap consistency (docs/metrics.md "Name-swap consistency") on
 * hand-made items and records: decisions (pairs: more / less / tie; multiple choice: the role of
 * the predicted answer, whatever its position), the counts of sets, comparisons, flips and
 * consistent sets (the arithmetic in the comments), sets of one item and unscored items left out,
 * rows per culture and slot, and a bootstrap interval that is seeded and brackets the value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testlib.h"

static quipu_item pair(const char *culture, const char *swap) {
    quipu_item it = {0};
    it.benchmark = "b";
    it.language = "es-CL";
    it.culture = (char *)culture;
    it.kind = QUIPU_ITEM_PAIR;
    it.swap = (char *)swap;
    it.label = it.target_choice = it.other_choice = it.unknown_choice = -1;
    return it;
}

static quipu_item_record rec2(int64_t i, double more, double less) {
    quipu_item_record r = {0};
    r.item_index = i;
    r.n_choices = 2;
    r.logprob[0] = more;
    r.logprob[1] = less;
    r.n_tokens[0] = 4;
    r.n_tokens[1] = 2;
    r.n_bytes[0] = r.n_bytes[1] = 10;
    return r;
}

static void test_decisions(void) {
    quipu_item p = pair("CL", "k");
    quipu_item_record r = rec2(0, -3, -4);
    CHECK(quipu_swap_decision(&p, &r, QUIPU_NORM_SUM) == 1);
    /* per token: -3/4 = -0.75 > -4/2 = -2: still more; -6 / 4 = -1.5 vs -3 / 2 = -1.5: a tie */
    CHECK(quipu_swap_decision(&p, &r, QUIPU_NORM_TOKEN) == 1);
    r = rec2(0, -6, -3);
    CHECK(quipu_swap_decision(&p, &r, QUIPU_NORM_SUM) == -1);
    CHECK(quipu_swap_decision(&p, &r, QUIPU_NORM_TOKEN) == 0);
    r.logprob[1] = NAN;
    CHECK(quipu_swap_decision(&p, &r, QUIPU_NORM_SUM) == INT32_MIN);
    /* multiple choice: the answers name the people, so their positions differ from item to item;
     * the decision is the predicted answer's role */
    quipu_item m = {0};
    m.kind = QUIPU_ITEM_MC;
    m.n_choices = 3;
    m.target_choice = 1, m.other_choice = 0, m.unknown_choice = 2;
    quipu_item_record q = {0};
    q.n_choices = 3;
    q.logprob[0] = -5, q.logprob[1] = -2, q.logprob[2] = -9;
    CHECK(quipu_swap_decision(&m, &q, QUIPU_NORM_SUM) == 100); /* target */
    m.target_choice = 0, m.other_choice = 1;
    CHECK(quipu_swap_decision(&m, &q, QUIPU_NORM_SUM) == 101); /* other */
    q.logprob[2] = -1;
    CHECK(quipu_swap_decision(&m, &q, QUIPU_NORM_SUM) == 102); /* unknown */
}

static void test_counts(void) {
    /* culture CL, slot NAME: set s1 = items 0-2 {more, more, less} -> 3 comparisons, 2 flips (the
     * less one against each more one); set s2 = items 3-4 {tie, more} -> 1 comparison, 1 flip; set
     * s3 has one scored item (item 6's score is NaN) -> left out. Slot OTHER: set o1 = items 0-3
     * {more, more, less, tie} -> 6 comparisons, 5 flips (only the two more ones agree).
     * CL NAME: 2 sets, 5 items, 4 comparisons, 3 flips, flip rate 0.75, no consistent set.
     * CL OTHER: 1 set, 4 items, 6 comparisons, 5 flips, 0 consistent.
     * MX NAME: set m1 = items 7-9 {less, less, less} -> 3 comparisons, 0 flips, consistent. */
    quipu_item it[] = {
        pair("CL", "NAME/g/s1\nOTHER/h/o1"), pair("CL", "NAME/g/s1\nOTHER/h/o1"), pair("CL", "NAME/g/s1\nOTHER/h/o1"),
        pair("CL", "NAME/g/s2\nOTHER/h/o1"), pair("CL", "NAME/g/s2"), pair("CL", "NAME/g/s3"), pair("CL", "NAME/g/s3"),
        pair("MX", "NAME/g/m1"), pair("MX", "NAME/g/m1"), pair("MX", "NAME/g/m1"), pair("CL", NULL)};
    quipu_item_record r[] = {rec2(0, -1, -2), rec2(1, -1, -2), rec2(2, -3, -2), rec2(3, -2, -2), rec2(4, -1, -5),
                             rec2(5, -1, -2), rec2(6, NAN, -2), rec2(7, -9, -2), rec2(8, -9, -2), rec2(9, -9, -2), rec2(10, -1, -2)};
    quipu_metrics_options mo;
    quipu_metrics_options_init(&mo);
    mo.n_boot = 200;
    mo.seed = 7;
    quipu_swap_row *rows = NULL;
    size_t n = 0;
    quipu_error e = {0};
    CHECK(quipu_name_swap(it, 11, r, 11, &mo, &rows, &n, &e) == QUIPU_OK);
    CHECK_MSG(n == 3, "%zu rows", n);
    if (n == 3) {
        /* sorted by benchmark, language, culture, slot */
        CHECK(!strcmp(rows[0].culture, "CL") && !strcmp(rows[0].slot, "NAME"));
        CHECK(rows[0].n_sets == 2 && rows[0].n_items == 5 && rows[0].n_comparisons == 4 && rows[0].n_flips == 3 && rows[0].n_consistent == 0);
        CHECK(rows[0].flip_rate == 0.75);
        CHECK(!strcmp(rows[1].culture, "CL") && !strcmp(rows[1].slot, "OTHER"));
        CHECK(rows[1].n_sets == 1 && rows[1].n_items == 4 && rows[1].n_comparisons == 6 && rows[1].n_flips == 5 && rows[1].n_consistent == 0);
        CHECK(isnan(rows[1].ci_low)); /* one set: nothing to resample */
        CHECK(!strcmp(rows[2].culture, "MX") && rows[2].n_comparisons == 3 && rows[2].n_flips == 0 && rows[2].flip_rate == 0.0 && rows[2].n_consistent == 1);
        /* CL NAME: a resample of the 2 sets (3 comparisons, 2 flips) and (1, 1) draws s1 twice (4/6),
         * both (3/4) or s2 twice (2/2): the interval lies in [2/3, 1] and, with 200 draws, spans 0.75 */
        CHECK(rows[0].ci_low >= 2.0 / 3.0 - 1e-12 && rows[0].ci_low <= 0.75 && rows[0].ci_high >= 0.75 && rows[0].ci_high <= 1.0);
    }
    /* seeded: the same rows again; records in another order: the same rows */
    quipu_swap_row *again = NULL;
    size_t n2 = 0;
    quipu_item_record rr[11];
    for (int i = 0; i < 11; i++) rr[i] = r[10 - i];
    CHECK(quipu_name_swap(it, 11, rr, 11, &mo, &again, &n2, &e) == QUIPU_OK && n2 == n);
    for (size_t i = 0; i < n && i < n2; i++)
        CHECK(again[i].n_flips == rows[i].n_flips && (again[i].ci_low == rows[i].ci_low || (isnan(again[i].ci_low) && isnan(rows[i].ci_low))) &&
              (again[i].ci_high == rows[i].ci_high || (isnan(again[i].ci_high) && isnan(rows[i].ci_high))));
    quipu_swap_rows_free(again, n2);
    quipu_swap_rows_free(rows, n);
    /* no swap keys: no rows */
    CHECK(quipu_name_swap(it + 10, 1, r + 10, 1, &mo, &rows, &n, &e) == QUIPU_OK && n == 0 && !rows);
}

int main(void) {
    test_decisions();
    test_counts();
    return test_finish("test_metrics_swap");
}
