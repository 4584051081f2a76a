/* test_comm.c — comm.h: gathers in rank order (with empty and large contributions), reductions,
 * agreed verdicts. Runs as one rank under ctest and under mpirun -n 2/4 in test_comm_mpi.sh. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "testlib.h"

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
