/* scheduler.c — longest-processing-time assignment of items to ranks (see scheduler.h). */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

typedef struct sort_key {
    int64_t cost;
    const char *id;
    size_t index;
} sort_key;

static int cmp_key(const void *a, const void *b) {
    const sort_key *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* min-heap of (load, rank) */
typedef struct heap_node {
    int64_t load;
    int32_t rank;
} heap_node;

static int node_less(heap_node a, heap_node b) { return a.load < b.load || (a.load == b.load && a.rank < b.rank); }

static void sift_down(heap_node *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && node_less(h[l], h[m])) m = l;
        if (r < n && node_less(h[r], h[m])) m = r;
        if (m == i) return;
        heap_node t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

quipu_status quipu_assign_ranks(const int64_t *cost, const char *const *ids, size_t n, int n_ranks, int32_t *owner,
                                quipu_error *err) {
    if (n_ranks < 1) return quipu_error_set(err, QUIPU_ERR_INVALID, "scheduler: %d ranks", n_ranks);
    sort_key *k = quipu_malloc_array(n, sizeof *k);
    heap_node *h = quipu_malloc_array((size_t)n_ranks, sizeof *h);
    if (!k || !h) {
        free(k);
        free(h);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "scheduler: out of memory for %zu items", n);
    }
    for (size_t i = 0; i < n; i++) k[i] = (sort_key){cost[i] > 0 ? cost[i] : 0, ids[i], i};
    qsort(k, n, sizeof *k, cmp_key);
    for (int r = 0; r < n_ranks; r++) h[r] = (heap_node){0, r}; /* already a heap */
    for (size_t i = 0; i < n; i++) {
        owner[k[i].index] = h[0].rank;
        h[0].load += k[i].cost + 1; /* +1: every item has a fixed overhead */
        sift_down(h, n_ranks, 0);
    }
    free(k);
    free(h);
    return QUIPU_OK;
}
