/* test_scheduler.c — the item-to-rank map: deterministic (independent of input order), covers
 * every item once, balanced within the LPT bound, one rank gets everything with one rank. */
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "testlib.h"

int main(void) {
    enum { N = 1000 };
    int64_t cost[N], cost2[N];
    char idbuf[N][16];
    const char *ids[N], *ids2[N];
    int32_t own[N], own2[N];
    quipu_error err = {0};
    uint64_t x = 12345;
    int64_t total = 0, maxc = 0;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cost[i] = 5 + (int64_t)((x >> 33) % 200);
        total += cost[i] + 1;
        if (cost[i] > maxc) maxc = cost[i];
        snprintf(idbuf[i], sizeof idbuf[i], "it:%04d", i);
        ids[i] = idbuf[i];
    }
    for (int ranks = 1; ranks <= 7; ranks++) {
        CHECK(quipu_assign_ranks(cost, ids, N, ranks, own, &err) == QUIPU_OK);
        int64_t load[8] = {0};
        for (int i = 0; i < N; i++) {
            CHECK(own[i] >= 0 && own[i] < ranks);
            load[own[i]] += cost[i] + 1;
        }
        int64_t lo = load[0], hi = load[0];
        for (int r = 1; r < ranks; r++) {
            if (load[r] < lo) lo = load[r];
            if (load[r] > hi) hi = load[r];
        }
        /* LPT: the heaviest rank exceeds the lightest by at most one item */
        CHECK_MSG(hi - lo <= maxc + 1, "ranks %d: loads %lld..%lld", ranks, (long long)lo, (long long)hi);
        /* same items in reverse order -> same owner per item */
        for (int i = 0; i < N; i++) {
            cost2[i] = cost[N - 1 - i];
            ids2[i] = ids[N - 1 - i];
        }
        CHECK(quipu_assign_ranks(cost2, ids2, N, ranks, own2, &err) == QUIPU_OK);
        int same = 1;
        for (int i = 0; i < N; i++)
            if (own2[i] != own[N - 1 - i]) same = 0;
        CHECK_MSG(same, "ranks %d: the map depends on input order", ranks);
    }
    CHECK(quipu_assign_ranks(cost, ids, N, 0, own, &err) == QUIPU_ERR_INVALID);
    (void)total;
    return test_finish("test_scheduler");
}
