/* test_mlm.c — masked LMs and pseudo-log-likelihood (score_mlm.c), against the goldens of
 * scripts/golden/make_mlm_golden.py (transformers fp32 on the CPU):
 * - the alignment: quipu_align_blocks equals difflib.SequenceMatcher(None, a, b)'s matching
 *   blocks on hand-made id sequences (several differences, different lengths, repeated ids, and
 *   200+ element sequences where autojunk's popularity rule applies);
 * - on the tiny BERT, RoBERTa and XLM-R checkpoints (tests/models/tiny-*-mlm): the all-tokens PLL
 *   of each sentence, with and without a context, and the CrowS-Pairs metric of each pair
 *   (the masked positions, each masked token's log-prob within 1e-4, each sentence's sum within
 *   1e-3, and the pair's decision equal to the reference's);
 * - batch invariance: the same bits with batch_tokens 8 (every masked copy in a batch of its
 *   own) and 100000 (everything in one batch), on every 4th group. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "score.h"
#include "testlib.h"

static json_t **read_jsonl(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    json_t **rows = NULL;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    *n = 0;
    if (!f) return NULL;
    while (getline(&line, &lcap, f) > 0) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j) continue;
        if (json_is_true(json_object_get(j, "header"))) {
            json_decref(j);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            rows = realloc(rows, cap * sizeof *rows);
        }
        rows[(*n)++] = j;
    }
    free(line);
    fclose(f);
    return rows;
}

static void free_rows(json_t **rows, size_t n) {
    for (size_t i = 0; i < n; i++) json_decref(rows[i]);
    free(rows);
}

static int32_t *ids_of(json_t *a, size_t *n) {
    *n = json_array_size(a);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return v;
}

static void test_align(const char *src) {
    size_t n = 0;
    json_t **rows = read_jsonl(test_path(src, "tests/golden/mlm/align.jsonl"), &n);
    CHECK_MSG(n >= 10, "align.jsonl: %zu cases", n);
    int popular = 0;
    for (size_t i = 0; i < n; i++) {
        size_t na, nb, nblk = 0;
        int32_t *a = ids_of(json_object_get(rows[i], "a"), &na), *b = ids_of(json_object_get(rows[i], "b"), &nb);
        quipu_match_block *blk = NULL;
        quipu_error err = {0};
        CHECK(quipu_align_blocks(a, na, b, nb, &blk, &nblk, &err) == QUIPU_OK);
        json_t *want = json_object_get(rows[i], "blocks");
        int same = nblk == json_array_size(want);
        for (size_t k = 0; same && k < nblk; k++) {
            json_t *w = json_array_get(want, k);
            same = blk[k].a == json_integer_value(json_array_get(w, 0)) && blk[k].b == json_integer_value(json_array_get(w, 1)) &&
                   blk[k].size == json_integer_value(json_array_get(w, 2));
        }
        CHECK_MSG(same, "alignment case %zu (%zu vs %zu ids): %zu blocks, difflib %zu", i, na, nb, nblk, json_array_size(want));
        popular += json_is_true(json_object_get(rows[i], "autojunk_matters"));
        free(blk);
        free(a);
        free(b);
    }
    CHECK_MSG(popular >= 4, "%d cases where autojunk changes difflib's answer", popular);
    free_rows(rows, n);
}

static int close_to(double x, double ref, double tol) { return isfinite(x) && fabs(x - ref) <= tol; }

/* result r against the golden's masked ids, per-token log-probs and sum */
static double check_result(const char *name, size_t line, const quipu_score_result *r, json_t *ids, json_t *masked, json_t *lps, double sum) {
    size_t nm = json_array_size(masked);
    double worst = 0.0;
    CHECK_MSG((size_t)r->n_tokens == nm, "%s line %zu: %d masked, golden %zu", name, line, r->n_tokens, nm);
    if ((size_t)r->n_tokens != nm) return INFINITY;
    for (size_t k = 0; k < nm; k++) {
        int64_t p = json_integer_value(json_array_get(masked, k));
        CHECK_MSG(r->tokens[r->n_context + (int32_t)k] == json_integer_value(json_array_get(ids, (size_t)p)), "%s line %zu: masked id %zu", name,
                  line, k);
        double ref = json_real_value(json_array_get(lps, k)), d = fabs(r->token_logprobs[k] - ref);
        if (!(d <= worst)) worst = d;
        CHECK_MSG(close_to(r->token_logprobs[k], ref, 1e-4), "%s line %zu token %zu: %.9g vs %.9g", name, line, k, r->token_logprobs[k], ref);
    }
    CHECK_MSG(close_to(r->logprob, sum, 1e-3), "%s line %zu: PLL %.9g vs %.9g", name, line, r->logprob, sum);
    return worst;
}

static void run_model(const char *dir, const char *name, const char *golden) {
    quipu_error err = {0};
    quipu_backend *b = NULL;
    quipu_model *m = NULL;
    if (quipu_backend_cpu_init(&b, 2, &err) || quipu_model_load(&m, dir, b, &err)) {
        CHECK_MSG(0, "%s: %s", name, err.msg);
        quipu_backend_free(b);
        return;
    }
    CHECK(m->cfg.masked_lm == 1);
    size_t n = 0;
    json_t **rows = read_jsonl(golden, &n);
    CHECK_MSG(n >= 60, "%s: %zu golden lines", name, n);
    /* every golden line one group: a sentence, a (context, continuation), or a pair */
    quipu_score_group *g = calloc(n, sizeof *g);
    const char **texts = calloc(2 * n, sizeof *texts);
    size_t *lens = calloc(2 * n, sizeof *lens), n_res = 0;
    for (size_t i = 0; i < n; i++) {
        const char *kind = json_string_value(json_object_get(rows[i], "kind"));
        if (!strcmp(kind, "crows")) {
            texts[2 * i] = json_string_value(json_object_get(rows[i], "more"));
            texts[2 * i + 1] = json_string_value(json_object_get(rows[i], "less"));
            g[i] = (quipu_score_group){"", 0, 2, &texts[2 * i], &lens[2 * i], 1};
        } else {
            const char *ctx = !strcmp(kind, "pll") ? "" : json_string_value(json_object_get(rows[i], "context"));
            texts[2 * i] = json_string_value(json_object_get(rows[i], !strcmp(kind, "pll") ? "text" : "continuation"));
            g[i] = (quipu_score_group){ctx, strlen(ctx), 1, &texts[2 * i], &lens[2 * i], 0};
        }
        for (int c = 0; c < g[i].n_cont; c++) lens[2 * i + (size_t)c] = strlen(texts[2 * i + (size_t)c]);
        n_res += (size_t)g[i].n_cont;
    }
    /* batch invariance on every 4th group (sentences, contexts and pairs among them): the same
     * groups in one batch and one masked copy per batch */
    size_t n_sub = 0, n_sub_res = 0;
    quipu_score_group *sub = calloc(n, sizeof *sub);
    for (size_t i = 0; i < n; i += 4) {
        sub[n_sub++] = g[i];
        n_sub_res += (size_t)g[i].n_cont;
    }
    quipu_score_result *big = calloc(n_res, sizeof *big), *small = calloc(n_sub_res, sizeof *small), *one = calloc(n_sub_res, sizeof *one);
    int64_t tok_one = 0, tok_small = 0;
    quipu_scorer_opts ob = {.batch_tokens = 100000}, o1 = {.batch_tokens = 100000, .tokens_processed = &tok_one},
                      os = {.batch_tokens = 8, .tokens_processed = &tok_small};
    CHECK_MSG(quipu_score_groups(m, &ob, g, n, big, &err) == QUIPU_OK, "%s: %s", name, err.msg);
    CHECK_MSG(quipu_score_groups(m, &o1, sub, n_sub, one, &err) == QUIPU_OK, "%s: %s", name, err.msg);
    CHECK_MSG(quipu_score_groups(m, &os, sub, n_sub, small, &err) == QUIPU_OK, "%s: %s", name, err.msg);
    double worst = 0.0;
    int decisions = 0, pairs = 0;
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *row = rows[i];
        const char *kind = json_string_value(json_object_get(row, "kind"));
        double w;
        if (!strcmp(kind, "crows")) {
            double ms = json_real_value(json_object_get(row, "more_score")), ls = json_real_value(json_object_get(row, "less_score"));
            w = check_result(name, i, &big[r], json_object_get(row, "more_ids"), json_object_get(row, "more_masked"),
                             json_object_get(row, "more_token_logprobs"), ms);
            worst = w > worst ? w : worst;
            w = check_result(name, i, &big[r + 1], json_object_get(row, "less_ids"), json_object_get(row, "less_masked"),
                             json_object_get(row, "less_token_logprobs"), ls);
            worst = w > worst ? w : worst;
            pairs++;
            decisions += (big[r].logprob > big[r + 1].logprob) == (ms > ls);
        } else {
            w = check_result(name, i, &big[r], json_object_get(row, "ids"), json_object_get(row, "masked"), json_object_get(row, "token_logprobs"),
                             json_real_value(json_object_get(row, "logprob")));
            worst = w > worst ? w : worst;
        }
        r += (size_t)g[i].n_cont;
    }
    CHECK_MSG(pairs >= 40 && decisions == pairs, "%s: %d of %d pair decisions equal the reference's", name, decisions, pairs);
    for (size_t k = 0; k < n_sub_res; k++) {
        CHECK_MSG(one[k].n_tokens == small[k].n_tokens && one[k].n_tokens >= 0 &&
                      !memcmp(one[k].token_logprobs, small[k].token_logprobs, sizeof(double) * (size_t)one[k].n_tokens),
                  "%s result %zu: batch_tokens 8 and 100000 differ", name, k);
        quipu_score_result_free(&one[k]);
        quipu_score_result_free(&small[k]);
    }
    for (size_t k = 0; k < n_res; k++) quipu_score_result_free(&big[k]);
    CHECK(tok_one == tok_small && tok_one > 0);
    printf("%s: %zu results, %d pairs (decisions equal: %d), max |token log-prob - transformers| %.3g; %zu results the same bits at "
           "batch_tokens 8 and 100000\n", name, n_res, pairs, decisions, worst, n_sub_res);
    free(big);
    free(small);
    free(one);
    free(sub);
    free(g);
    free(texts);
    free(lens);
    free_rows(rows, n);
    quipu_model_free(m);
    quipu_backend_free(b);
}

int main(void) {
    const char *src = test_env("QUIPU_SOURCE_DIR", ".");
    test_align(src);
    char dir[] = "/tmp/quipu-mlm-XXXXXX";
    if (!mkdtemp(dir)) return test_skip("cannot create a temp folder");
    static const char *const models[] = {"tiny-bert-mlm", "tiny-roberta-mlm", "tiny-xlmr-mlm"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char cmd[8192], md[4200], golden[4200];
        snprintf(md, sizeof md, "%s/%s", dir, models[i]);
        snprintf(golden, sizeof golden, "%s/tests/golden/mlm/%s.jsonl", src, models[i]);
        /* the XLM-R tokenizer is the committed u-xlmr golden file (zstd), named by tokenizer.zst.source */
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %s && cp %s/tests/models/%s/* %s/ && if [ -f %s/tokenizer.zst.source ]; then zstd -qdc %s/$(cat %s/tokenizer.zst.source) "
                 "> %s/tokenizer.json; fi",
                 md, src, models[i], md, md, src, md, md);
        if (system(cmd) != 0) {
            CHECK_MSG(0, "%s: cannot set up the checkpoint folder", models[i]);
            continue;
        }
        run_model(md, models[i], golden);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return test_finish("test_mlm");
}
