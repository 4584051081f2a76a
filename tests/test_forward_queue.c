/* test_forward_queue.c — quipu_model_forward_begin / _end (model.h) against the synchronous
 * quipu_model_forward, on the tiny Llama: two batches in flight give each its own results, bit for
 * bit; a batch larger than the forward state, begun while another is in flight, grows the state
 * without losing the first one's results; a batch that cannot run (a position past the context)
 * is reported by its end, in the synchronous pass's words, after the batch before it has ended
 * cleanly; a third begin while two are in flight, and an end with none, are refused. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "testlib.h"

/* one plain segment of n tokens (ids from seed), every position but the last scored */
typedef struct seq_batch {
    int32_t tok[512], pos[512], seg[512], rows[512], tg[512];
    quipu_batch b;
} seq_batch;

static void make_batch(seq_batch *s, int n, int seed, int pos0) {
    for (int t = 0; t < n; t++) {
        s->tok[t] = (int32_t)((seed * 7919 + t * 104729) % 200 + 5);
        s->pos[t] = pos0 + t;
        s->seg[t] = 0;
    }
    for (int r = 0; r + 1 < n; r++) s->rows[r] = r, s->tg[r] = s->tok[r + 1];
    s->b = (quipu_batch){.n_tokens = n, .tokens = s->tok, .pos = s->pos, .seg_lo = s->seg, .pre_lo = s->seg, .pre_hi = s->seg,
                         .n_rows = n - 1, .rows = s->rows, .targets = s->tg};
}

int main(void) {
    const char *src = test_env("QUIPU_SOURCE_DIR", ".");
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    if (!test_file_exists(test_path(shared, "tokenizers")))
        return test_skip("needs %s/tokenizers (the project's shared data: CI has it beside the clone, a bare clone does not)", shared);
    char dir[] = "/tmp/quipu-fwdq-XXXXXX";
    if (!mkdtemp(dir)) return test_skip("cannot create a temp folder");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp %s/tests/models/tiny-llama/* %s/ && cp %s/tokenizers/$(cat %s/tests/models/tiny-llama/tokenizer.source)/tokenizer*.json %s/",
             src, dir, shared, src, dir);
    CHECK(system(cmd) == 0);
    quipu_error err = {0};
    quipu_backend *b = NULL;
    quipu_model *m = NULL;
    if (quipu_backend_cpu_init(&b, 2, &err) || quipu_model_load(&m, dir, b, &err)) {
        CHECK_MSG(0, "tiny-llama: %s", err.msg);
        quipu_backend_free(b);
        return test_finish("test_forward_queue");
    }
    static seq_batch a, c, big, bad;
    make_batch(&a, 24, 1, 0);
    make_batch(&c, 40, 2, 0);
    make_batch(&big, 300, 3, 0);
    make_batch(&bad, 8, 4, (int)m->cfg.n_ctx - 4); /* runs past the context */
    double la[512], lc[512], lbig[512], ra[512], rc[512], rbig[512];
    uint8_t ga[512], gc[512], gbig[512], sa[512], sc[512], sbig[512];
    /* the references, one at a time */
    CHECK(quipu_model_forward(m, &a.b, ra, sa, &err) == QUIPU_OK);
    CHECK(quipu_model_forward(m, &c.b, rc, sc, &err) == QUIPU_OK);
    CHECK(quipu_model_forward(m, &big.b, rbig, sbig, &err) == QUIPU_OK);
    quipu_model_release_state(m);
    CHECK(quipu_model_reserve(m, 64, 64, &err) == QUIPU_OK);

    /* two in flight, ended in order */
    CHECK(quipu_model_forward_begin(m, &a.b, la, ga, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_begin(m, &c.b, lc, gc, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_pending(m) == 2);
    quipu_error e3 = {0};
    CHECK_MSG(quipu_model_forward_begin(m, &big.b, lbig, gbig, &e3) == QUIPU_ERR_INTERNAL, "a third begin: %s", e3.msg);
    CHECK(quipu_model_forward_end(m, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_end(m, &err) == QUIPU_OK);
    CHECK(!memcmp(la, ra, 23 * sizeof(double)) && !memcmp(ga, sa, 23));
    CHECK(!memcmp(lc, rc, 39 * sizeof(double)) && !memcmp(gc, sc, 39));
    quipu_error e4 = {0};
    CHECK(quipu_model_forward_end(m, &e4) == QUIPU_ERR_INTERNAL);

    /* a batch larger than the state, begun while another is in flight: the state grows under it */
    memset(la, 0, sizeof la);
    CHECK(quipu_model_forward_begin(m, &a.b, la, ga, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_begin(m, &big.b, lbig, gbig, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_end(m, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_end(m, &err) == QUIPU_OK);
    CHECK_MSG(!memcmp(la, ra, 23 * sizeof(double)) && !memcmp(ga, sa, 23), "the batch in flight while the state grew");
    CHECK(!memcmp(lbig, rbig, 299 * sizeof(double)) && !memcmp(gbig, sbig, 299));

    /* a failing batch behind a good one: the good one ends cleanly, the bad one's end says why */
    quipu_error want = {0};
    CHECK(quipu_model_forward(m, &bad.b, lbig, gbig, &want) != QUIPU_OK);
    memset(la, 0, sizeof la);
    CHECK(quipu_model_forward_begin(m, &a.b, la, ga, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_begin(m, &bad.b, lbig, gbig, &err) == QUIPU_OK);
    CHECK(quipu_model_forward_end(m, &err) == QUIPU_OK);
    CHECK(!memcmp(la, ra, 23 * sizeof(double)));
    quipu_error got = {0};
    CHECK(quipu_model_forward_end(m, &got) == want.code);
    CHECK_MSG(!strcmp(got.msg, want.msg) && want.msg[0], "end said '%s', the synchronous pass '%s'", got.msg, want.msg);
    printf("a bad batch at its end: %s\n", got.msg);
    /* and a batch left in flight is waited for when the model goes */
    CHECK(quipu_model_forward_begin(m, &c.b, lc, gc, &err) == QUIPU_OK);
    quipu_model_free(m);
    quipu_backend_free(b);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("test_forward_queue");
}
