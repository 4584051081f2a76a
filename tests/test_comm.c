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
    /* tensor-parallel groups: tp 1 always; tp 2 when the node's rank count is even (groups of
     * consecutive node-local ranks, numbered replicas); all-gather in group rank order */
    for (int tp = 1; tp <= 4; tp *= 2) {
        quipu_comm_group g;
        quipu_status st = quipu_comm_split_tp(&c, tp, &g, &err);
        if (tp > 1 && (c.serial || c.local_size % tp)) { /* refused, saying why */
            CHECK(st != QUIPU_OK && strstr(err.msg, "tensor parallelism") != NULL);
            continue;
        }
        CHECK(st == QUIPU_OK);
        CHECK(g.size == tp && g.rank == c.local_rank % tp && g.dp_size == c.size / tp && g.dp_rank >= 0 && g.dp_rank < g.dp_size);
        /* every member of a group has the same replica number; the replica numbers cover 0..dp_size-1 */
        int64_t mine_dp = g.dp_rank, lo = g.dp_rank, hi = -g.dp_rank;
        CHECK(quipu_comm_allreduce_max_i64(&c, &hi, 1, &err) == QUIPU_OK); /* -min */
        CHECK(quipu_comm_allreduce_max_i64(&c, &lo, 1, &err) == QUIPU_OK); /* max */
        CHECK(-hi == 0 && lo == g.dp_size - 1);
        int32_t send[3] = {g.rank, (int32_t)mine_dp, c.rank}, got[3 * 4];
        CHECK(quipu_comm_group_allgather(&g, send, sizeof send, got, &err) == QUIPU_OK);
        for (int r = 0; r < g.size; r++) CHECK(got[3 * r] == r && got[3 * r + 1] == (int32_t)mine_dp);
        /* a large gather (several MB) keeps every member's bytes in place */
        size_t big = (size_t)3 << 20;
        unsigned char *bs = malloc(big), *br = malloc(big * (size_t)g.size);
        for (size_t i = 0; i < big; i++) bs[i] = (unsigned char)((i * 7 + (size_t)g.rank) & 0xff);
        CHECK(quipu_comm_group_allgather(&g, bs, big, br, &err) == QUIPU_OK);
        int good = 1;
        for (int r = 0; r < g.size; r++)
            for (size_t i = 0; i < big; i += 4093) good &= br[(size_t)r * big + i] == (unsigned char)((i * 7 + (size_t)r) & 0xff);
        CHECK(good);
        char id[8] = {0};
        if (g.rank == 0) snprintf(id, sizeof id, "g%d", g.dp_rank);
        CHECK(quipu_comm_group_bcast(&g, id, sizeof id, &err) == QUIPU_OK);
        char want[8];
        snprintf(want, sizeof want, "g%d", g.dp_rank);
        CHECK(!strcmp(id, want));
        free(bs);
        free(br);
        quipu_comm_group_free(&g);
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
