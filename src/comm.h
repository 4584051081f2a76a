/* comm.h — the only interface to MPI. Built with QUIPU_WITH_MPI it wraps MPI_COMM_WORLD; built
 * without, the same calls run as one rank (size 1, gathers are copies), so the rest of quipu has
 * no #ifdef. Every call returns a status and records MPI's own message on failure. */
#ifndef QUIPU_COMM_H
#define QUIPU_COMM_H

#include "common.h"

typedef struct quipu_comm {
    int rank, size;
    int initialized_mpi; /* we called MPI_Init (and so call MPI_Finalize) */
    int serial;          /* one rank without MPI: not launched by mpirun/srun (QUIPU_FORCE_MPI=1 forces MPI) */
} quipu_comm;

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
/* Every rank's verdict agreed: returns the worst (max) status code across ranks. */
quipu_status quipu_comm_agree(const quipu_comm *c, quipu_status mine, quipu_error *err);

#endif
