/* scheduler.h — which rank scores which item: a deterministic, length-balanced map. Items are
 * taken longest first (ties by id) and each goes to the rank with the least work so far (ties to
 * the lowest rank): the classic longest-processing-time rule, within 4/3 of the best balance.
 * Every rank computes the same map from the same items, so no communication is needed. */
#ifndef QUIPU_SCHEDULER_H
#define QUIPU_SCHEDULER_H

#include "common.h"

/* cost[i] >= 0 (e.g. tokens to run), ids[i] unique; owner[i] receives a rank in [0, n_ranks). */
quipu_status quipu_assign_ranks(const int64_t *cost, const char *const *ids, size_t n, int n_ranks, int32_t *owner,
                                quipu_error *err);

#endif
