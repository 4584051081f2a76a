/* comm.h — the only interface to MPI. Built with QUIPU_WITH_MPI it wraps MPI_COMM_WORLD; built
 * without, the same calls run as one rank (size 1, gathers are copies), so the rest of quipu has
 * no #ifdef. Every call returns a status and records MPI's own message on failure. */
#ifndef QUIPU_COMM_H
#define QUIPU_COMM_H

#include "common.h"

#ifdef __cplusplus /* backend.h, and so this, reaches the CUDA/HIP sources */
#define QUIPU_ALIGNAS(n) alignas(n)
#else
#define QUIPU_ALIGNAS(n) _Alignas(n)
#endif

/* A progress message: a few int64 numbers whose meaning the caller decides (run.c: model, items
 * done, final flag, tokens, microseconds loading and scoring). */
#define QUIPU_PROGRESS_LEN 8

typedef struct quipu_comm {
    int rank, size;
    int local_rank, local_size; /* among the ranks on this node (MPI_Comm_split_type SHARED) */
    int initialized_mpi; /* we called MPI_Init (and so call MPI_Finalize) */
    int serial;          /* one rank without MPI: not launched by mpirun/srun (QUIPU_FORCE_MPI=1 forces MPI) */
    /* progress messages of this rank (ranks > 0): the request and buffer of the send in flight
     * (the request is an MPI_Request, stored here so that posting never allocates) */
    QUIPU_ALIGNAS(16) unsigned char progress_req[64];
    int progress_pending;
    int64_t progress_buf[QUIPU_PROGRESS_LEN];
} quipu_comm;

/* Also finds the node-local rank (MPI_Comm_split_type) and checks it against SLURM_LOCALID when
 * Slurm set it: a mismatch is an error (ranks placed other than Slurm says would pick the wrong
 * GPU). The node-local rank is exported as QUIPU_LOCAL_RANK for the GPU backend. */
quipu_status quipu_comm_init(quipu_comm *c, int *argc, char ***argv, quipu_error *err);
void quipu_comm_finalize(quipu_comm *c);
/* Ends every rank (MPI_Abort) with code; in the serial build, exit(code). */
void quipu_comm_abort(const quipu_comm *c, int code);
int quipu_comm_with_mpi(void);

quipu_status quipu_comm_barrier(const quipu_comm *c, quipu_error *err);
/* Gathers each rank's n bytes at send to rank 0, in rank order, into a heap buffer *recv
 * (rank 0 only; NULL elsewhere) of *recv_len bytes; counts[r] (rank 0, optional, size entries)
 * receives each rank's byte count. */
quipu_status quipu_comm_gatherv(const quipu_comm *c, const void *send, size_t n, void **recv, size_t *recv_len, size_t *counts,
                                quipu_error *err);
/* Broadcasts n bytes from rank 0. */
quipu_status quipu_comm_bcast(const quipu_comm *c, void *buf, size_t n, quipu_error *err);
/* Element-wise int64 reductions over all ranks, result on every rank. */
quipu_status quipu_comm_allreduce_sum_i64(const quipu_comm *c, int64_t *v, int n, quipu_error *err);
quipu_status quipu_comm_allreduce_max_i64(const quipu_comm *c, int64_t *v, int n, quipu_error *err);
/* Progress without stalling anyone. A rank > 0 posts its numbers with a non-blocking send and goes
 * on; while an earlier send is still in flight the post is dropped (the next one carries newer
 * numbers). final = 1 waits for the send in flight and then sends, so a rank's final message is
 * never dropped and is its last. Rank 0 and the serial build: no-op. */
quipu_status quipu_comm_progress_post(quipu_comm *c, const int64_t v[QUIPU_PROGRESS_LEN], int final, quipu_error *err);
/* Rank 0: hands every progress message that has already arrived to fn(ctx, rank, v), in arrival
 * order per rank, and returns without waiting for more. */
typedef void (*quipu_progress_fn)(void *ctx, int rank, const int64_t v[QUIPU_PROGRESS_LEN]);
quipu_status quipu_comm_progress_poll(quipu_comm *c, quipu_progress_fn fn, void *ctx, quipu_error *err);

/* Tensor-parallel groups: tp consecutive node-local ranks share one model, each holding a slice;
 * the groups are data-parallel replicas of each other (items are shared out over them). A group
 * lives inside one node (its GPUs talk over NVLink / Infinity Fabric), so a node's rank count
 * must be a multiple of tp. */
typedef struct quipu_comm_group {
    int rank, size;            /* this rank's place in its tensor-parallel group, and tp */
    int dp_rank, dp_size;      /* which group (replica) it is, and how many there are */
    int valid;                 /* holds an MPI communicator (freed by quipu_comm_group_free) */
    QUIPU_ALIGNAS(16) unsigned char handle[16];
} quipu_comm_group;

/* Splits the ranks into groups of tp (1 is always accepted: every rank its own group). A node
 * whose rank count is not a multiple of tp is an error naming both. */
quipu_status quipu_comm_split_tp(const quipu_comm *c, int tp, quipu_comm_group *g, quipu_error *err);
void quipu_comm_group_free(quipu_comm_group *g);
/* Each member's n bytes at send, concatenated in group rank order into recv (n * size bytes),
 * on every member. The building block of the deterministic all-reduce (forward.c): gather, then
 * sum in rank order, so the bits never depend on the message size or the library's algorithm. */
quipu_status quipu_comm_group_allgather(const quipu_comm_group *g, const void *send, size_t n, void *recv, quipu_error *err);
/* n bytes from the group's rank 0 to the others (the NCCL unique id, for one) */
quipu_status quipu_comm_group_bcast(const quipu_comm_group *g, void *buf, size_t n, quipu_error *err);

/* Every rank's verdict agreed: returns the worst (max) status code across ranks. */
quipu_status quipu_comm_agree(const quipu_comm *c, quipu_status mine, quipu_error *err);

#endif
