/* test_comm.c — comm.h: gathers in rank order (with empty and large contributions), reductions,
 * agreed verdicts, progress messages (in order per rank, none after the final one). Runs as one rank under ctest and under mpirun -n 2/4 in test_comm_mpi.sh. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "testlib.h"

/* progress messages: [rank, count, final]; counts must grow, nothing may follow a final */
typedef struct seen_t {
    int64_t last[64];
    int finals, bad;
} seen_t;

static void take(void *ctx, int rank, const int64_t *v) {
    seen_t *seen = ctx;
    if (rank < 1 || rank >= 64 || v[0] != rank || v[1] <= seen->last[rank] || seen->last[rank] >= 1000) seen->bad = 1;
    else seen->last[rank] = v[1];
    if (v[2]) seen->finals++;
}

int main(int argc, char **argv) {
    quipu_comm c;
    quipu_error err = {0};
    if (quipu_comm_init(&c, &argc, &argv, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* rank r sends r*1000 + 3 bytes (rank 1: 0 bytes), each byte = (r + i) & 0xff */
    size_t n = c.rank == 1 ? 0 : (size_t)c.rank * 1000 + 3;
    unsigned char *mine = malloc(n + 1);
    for (size_t i = 0; i < n; i++) mine[i] = (unsigned char)((c.rank + i) & 0xff);
    void *all = NULL;
    size_t len = 0, counts[64] = {0};
    CHECK(quipu_comm_gatherv(&c, mine, n, &all, &len, counts, &err) == QUIPU_OK);
    if (c.rank == 0) {
        size_t off = 0, expect = 0;
        int good = 1;
        for (int r = 0; r < c.size; r++) {
            size_t nr = r == 1 ? 0 : (size_t)r * 1000 + 3;
            expect += nr;
            CHECK(counts[r] == nr);
            for (size_t i = 0; i < nr; i++)
                if (((unsigned char *)all)[off + i] != (unsigned char)((r + i) & 0xff)) good = 0;
            off += nr;
        }
        CHECK(len == expect);
        CHECK(good);
    } else {
        CHECK(all == NULL);
    }
    int64_t v[2] = {c.rank + 1, 10 * c.rank};
    CHECK(quipu_comm_allreduce_sum_i64(&c, v, 2, &err) == QUIPU_OK);
    CHECK(v[0] == (int64_t)c.size * (c.size + 1) / 2);
    int64_t mx = c.rank;
    CHECK(quipu_comm_allreduce_max_i64(&c, &mx, 1, &err) == QUIPU_OK && mx == c.size - 1);
    /* one rank failing makes every rank see the failure */
    quipu_status verdict = quipu_comm_agree(&c, c.rank == c.size - 1 ? QUIPU_ERR_FORMAT : QUIPU_OK, &err);
    CHECK(verdict == QUIPU_ERR_FORMAT);
    char buf[8] = {0};
    if (c.rank == 0) memcpy(buf, "quipu!!", 8);
    CHECK(quipu_comm_bcast(&c, buf, 8, &err) == QUIPU_OK && !strcmp(buf, "quipu!!"));
    /* progress: every rank > 0 posts 200 counts without waiting, then a final one; rank 0 polls
     * until every final has come. Counts from a rank arrive in order, the final one last. */
    {
        seen_t seen;
        memset(&seen, 0, sizeof seen);
        for (int r = 0; r < 64; r++) seen.last[r] = -1;
        if (c.rank > 0) {
            for (int k = 0; k < 200; k++) {
                int64_t pv[QUIPU_PROGRESS_LEN] = {c.rank, k, 0};
                CHECK(quipu_comm_progress_post(&c, pv, 0, &err) == QUIPU_OK);
            }
            int64_t pv[QUIPU_PROGRESS_LEN] = {c.rank, 1000 + c.rank, 1};
            CHECK(quipu_comm_progress_post(&c, pv, 1, &err) == QUIPU_OK);
        } else {
            int64_t spins = 0;
            quipu_status pst = QUIPU_OK;
            while (!pst && seen.finals < c.size - 1 && spins++ < 100000000) pst = quipu_comm_progress_poll(&c, take, &seen, &err);
            CHECK(pst == QUIPU_OK);
            CHECK(seen.finals == c.size - 1);
            CHECK(!seen.bad);
            for (int r = 1; r < c.size && r < 64; r++) CHECK(seen.last[r] == 1000 + r);
            /* nothing is left to take */
            CHECK(quipu_comm_progress_poll(&c, take, &seen, &err) == QUIPU_OK && seen.finals == c.size - 1 && !seen.bad);
        }
    }
    free(mine);
    free(all);
    int64_t fails = quipu_test_failures;
    quipu_comm_allreduce_sum_i64(&c, &fails, 1, &err);
    int rc;
    if (c.rank == 0) {
        printf("ranks: %d (MPI %s)\n", c.size, quipu_comm_with_mpi() ? "on" : "off");
        rc = test_finish("test_comm");
        if (fails) rc = 1;
    } else {
        rc = fails ? 1 : 0;
    }
    quipu_comm_finalize(&c);
    return rc;
}
