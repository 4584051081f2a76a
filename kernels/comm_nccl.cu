/* comm_nccl.cu — the only NCCL (NVIDIA) / RCCL (AMD) user, as src/comm.c is the only MPI user:
 * one communicator per tensor-parallel group, its unique id made by the group's rank 0 and
 * broadcast over the group's MPI communicator (comm.c), and the all-gather the forward pass
 * builds its deterministic all-reduce from (gather, then add the pieces in member order). Built
 * without NCCL/RCCL headers, every call says so and tensor parallelism on the GPU is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_nccl.h"

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#if __has_include(<rccl/rccl.h>) && !defined(QUIPU_NO_NCCL)
#include <rccl/rccl.h>
#define QK_HAVE_NCCL 1
#endif
#elif __has_include(<nccl.h>) && !defined(QUIPU_NO_NCCL)
#include <nccl.h>
#define QK_HAVE_NCCL 1
#endif

#ifdef QK_HAVE_NCCL

static_assert(sizeof(ncclUniqueId) <= QK_NCCL_ID_BYTES, "ncclUniqueId larger than QK_NCCL_ID_BYTES");

struct qk_nccl {
    ncclComm_t comm;
};

int qk_nccl_available(void) { return 1; }

const char *qk_nccl_make_id(void *id) {
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return ncclGetErrorString(r);
    memset(id, 0, QK_NCCL_ID_BYTES);
    memcpy(id, &u, sizeof u);
    return NULL;
}

const char *qk_nccl_init(qk_nccl **out, const void *id, int rank, int size) {
    *out = NULL;
    qk_nccl *c = (qk_nccl *)calloc(1, sizeof *c);
    if (!c) return "out of memory";
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclResult_t r = ncclCommInitRank(&c->comm, size, u, rank);
    if (r != ncclSuccess) {
        free(c);
        return ncclGetErrorString(r);
    }
    *out = c;
    return NULL;
}

const char *qk_nccl_allgather(qk_nccl *c, const void *send, void *recv, size_t bytes, qpStream_t s) {
    ncclResult_t r = ncclAllGather(send, recv, bytes, ncclChar, c->comm, s);
    return r == ncclSuccess ? NULL : ncclGetErrorString(r);
}

void qk_nccl_free(qk_nccl *c) {
    if (!c) return;
    ncclCommDestroy(c->comm);
    free(c);
}

#else

struct qk_nccl {
    int unused;
};
static const char no_nccl[] = "this build has no NCCL/RCCL (their headers were not found at build time)";
int qk_nccl_available(void) { return 0; }
const char *qk_nccl_make_id(void *id) { return no_nccl; }
const char *qk_nccl_init(qk_nccl **out, const void *id, int rank, int size) {
    *out = NULL;
    return no_nccl;
}
const char *qk_nccl_allgather(qk_nccl *c, const void *send, void *recv, size_t bytes, qpStream_t s) { return no_nccl; }
void qk_nccl_free(qk_nccl *c) { (void)c; }

#endif
