/* comm.c — MPI wrappers with a serial twin (see comm.h). Gathers move bytes in chunks below
 * INT_MAX, since MPI counts are ints. */
#define _POSIX_C_SOURCE 200809L
#include "comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static quipu_status serial_gatherv(const void *send, size_t n, void **recv, size_t *recv_len, size_t *counts, quipu_error *err) {
    char *buf = malloc(n ? n : 1);
    if (!buf) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory gathering results");
    if (n) memcpy(buf, send, n);
    *recv = buf;
    *recv_len = n;
    if (counts) counts[0] = n;
    return QUIPU_OK;
}

#ifdef QUIPU_WITH_MPI
#include <mpi.h>

static quipu_status mpi_fail(quipu_error *err, int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return quipu_error_set(err, QUIPU_ERR_IO, "MPI: %s failed: %.*s", what, len, msg);
}
#define MPI_CHECK(call, what)                                                                                                          \
    do {                                                                                                                           \
        int rc_ = (call);                                                                                                          \
        if (rc_ != MPI_SUCCESS) return mpi_fail(err, rc_, what);                                                                   \
    } while (0)

int quipu_comm_with_mpi(void) { return 1; }

/* Launched by mpirun/srun? A plain `quipu run` then never initialises MPI (Open MPI refuses to
 * start a singleton as root, and a login node may have no launcher at all). */
static int launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "MPI_LOCALNRANKS",
                                       "MV2_COMM_WORLD_SIZE", "QUIPU_FORCE_MPI", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* QUIPU_LOCAL_RANK for the GPU backend; SLURM_LOCALID, when set, must agree */
static quipu_status export_local_rank(const quipu_comm *c, quipu_error *err) {
    const char *sl = getenv("SLURM_LOCALID");
    if (sl && *sl && c->size > 1 && getenv("SLURM_STEP_NUM_TASKS") && atoi(sl) != c->local_rank)
        return quipu_error_set(err, QUIPU_ERR_INVALID,
                               "rank %d: SLURM_LOCALID=%s but it is rank %d of the %d on its node: the ranks are not placed as Slurm "
                               "says, so GPUs would be picked wrong (launch with srun, one task per GPU)",
                               c->rank, sl, c->local_rank, c->local_size);
    char v[16];
    snprintf(v, sizeof v, "%d", c->local_rank);
    if (!getenv("QUIPU_LOCAL_RANK")) setenv("QUIPU_LOCAL_RANK", v, 1);
    return QUIPU_OK;
}

quipu_status quipu_comm_init(quipu_comm *c, int *argc, char ***argv, quipu_error *err) {
    int inited = 0;
    memset(c, 0, sizeof *c);
    MPI_Initialized(&inited);
    if (!inited && !launched_by_mpi()) {
        c->rank = 0;
        c->size = 1;
        c->local_size = 1;
        c->serial = 1;
        return QUIPU_OK;
    }
    if (!inited) {
        MPI_CHECK(MPI_Init(argc, argv), "MPI_Init");
        c->initialized_mpi = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &c->rank), "MPI_Comm_rank");
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &c->size), "MPI_Comm_size");
    MPI_Comm node;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_size(node, &c->local_size);
    MPI_Comm_free(&node);
    return export_local_rank(c, err);
}

_Static_assert(sizeof(MPI_Request) <= sizeof(((quipu_comm *)0)->progress_req), "quipu_comm.progress_req too small for MPI_Request");

#define TAG_RESULTS 7
#define TAG_PROGRESS 11

void quipu_comm_finalize(quipu_comm *c) {
    if (!c) return;
    if (c->progress_pending) MPI_Wait((MPI_Request *)(void *)c->progress_req, MPI_STATUS_IGNORE);
    c->progress_pending = 0;
    if (c->initialized_mpi) MPI_Finalize();
    c->initialized_mpi = 0;
}

quipu_status quipu_comm_progress_post(quipu_comm *c, const int64_t v[QUIPU_PROGRESS_LEN], int final, quipu_error *err) {
    if (c->serial || c->rank == 0) return QUIPU_OK;
    MPI_Request *req = (MPI_Request *)(void *)c->progress_req;
    if (c->progress_pending) {
        int done = 0;
        if (final) MPI_CHECK(MPI_Wait(req, MPI_STATUS_IGNORE), "MPI_Wait (progress)");
        else MPI_CHECK(MPI_Test(req, &done, MPI_STATUS_IGNORE), "MPI_Test (progress)");
        if (!final && !done) return QUIPU_OK; /* still in flight: skip this one */
        c->progress_pending = 0;
    }
    memcpy(c->progress_buf, v, sizeof c->progress_buf);
    if (final) {
        MPI_CHECK(MPI_Send(c->progress_buf, QUIPU_PROGRESS_LEN, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD), "MPI_Send (progress)");
        return QUIPU_OK;
    }
    MPI_CHECK(MPI_Isend(c->progress_buf, QUIPU_PROGRESS_LEN, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD, req), "MPI_Isend (progress)");
    c->progress_pending = 1;
    return QUIPU_OK;
}

quipu_status quipu_comm_progress_poll(quipu_comm *c, quipu_progress_fn fn, void *ctx, quipu_error *err) {
    if (c->serial || c->rank != 0) return QUIPU_OK;
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, TAG_PROGRESS, MPI_COMM_WORLD, &flag, &stt), "MPI_Iprobe (progress)");
        if (!flag) return QUIPU_OK;
        int64_t v[QUIPU_PROGRESS_LEN];
        MPI_CHECK(MPI_Recv(v, QUIPU_PROGRESS_LEN, MPI_INT64_T, stt.MPI_SOURCE, TAG_PROGRESS, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                  "MPI_Recv (progress)");
        fn(ctx, stt.MPI_SOURCE, v);
    }
}

void quipu_comm_abort(const quipu_comm *c, int code) {
    if (!c->serial) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

quipu_status quipu_comm_barrier(const quipu_comm *c, quipu_error *err) {
    if (c->serial) return QUIPU_OK;
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    return QUIPU_OK;
}

quipu_status quipu_comm_gatherv(const quipu_comm *c, const void *send, size_t n, void **recv, size_t *recv_len, size_t *counts,
                                quipu_error *err) {
    *recv = NULL;
    *recv_len = 0;
    if (c->serial) return serial_gatherv(send, n, recv, recv_len, counts, err);
    long long mine = (long long)n;
    long long *all = c->rank == 0 ? malloc((size_t)c->size * sizeof *all) : NULL;
    if (c->rank == 0 && !all) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory gathering results");
    MPI_CHECK(MPI_Gather(&mine, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Gather");
    char *buf = NULL;
    size_t total = 0;
    if (c->rank == 0) {
        for (int r = 0; r < c->size; r++) {
            total += (size_t)all[r];
            if (counts) counts[r] = (size_t)all[r];
        }
        buf = malloc(total ? total : 1);
        if (!buf) {
            free(all);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory gathering %zu bytes of results", total);
        }
        memcpy(buf, send, n);
    }
    /* rank 0 receives from each rank in turn, in chunks below INT_MAX */
    const size_t chunk = (size_t)INT_MAX / 2;
    if (c->rank == 0) {
        size_t off = (size_t)all[0];
        for (int r = 1; r < c->size; r++) {
            size_t left = (size_t)all[r];
            while (left) {
                int m = (int)(left < chunk ? left : chunk);
                int rc = MPI_Recv(buf + off, m, MPI_BYTE, r, TAG_RESULTS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                if (rc != MPI_SUCCESS) {
                    free(buf);
                    free(all);
                    return mpi_fail(err, rc, "MPI_Recv of results");
                }
                off += (size_t)m;
                left -= (size_t)m;
            }
        }
        *recv = buf;
        *recv_len = total;
    } else {
        const char *p = send;
        size_t left = n;
        while (left) {
            int m = (int)(left < chunk ? left : chunk);
            MPI_CHECK(MPI_Send(p, m, MPI_BYTE, 0, TAG_RESULTS, MPI_COMM_WORLD), "MPI_Send of results");
            p += m;
            left -= (size_t)m;
        }
    }
    free(all);
    return QUIPU_OK;
}

quipu_status quipu_comm_bcast(const quipu_comm *c, void *buf, size_t n, quipu_error *err) {
    if (c->serial) return QUIPU_OK;
    const size_t chunk = (size_t)INT_MAX / 2;
    char *p = buf;
    while (n) {
        int m = (int)(n < chunk ? n : chunk);
        MPI_CHECK(MPI_Bcast(p, m, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
        p += m;
        n -= (size_t)m;
    }
    return QUIPU_OK;
}

quipu_status quipu_comm_allreduce_sum_i64(const quipu_comm *c, int64_t *v, int n, quipu_error *err) {
    if (c->serial) return QUIPU_OK;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    return QUIPU_OK;
}

quipu_status quipu_comm_allreduce_max_i64(const quipu_comm *c, int64_t *v, int n, quipu_error *err) {
    if (c->serial) return QUIPU_OK;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    return QUIPU_OK;
}

_Static_assert(sizeof(MPI_Comm) <= sizeof(((quipu_comm_group *)0)->handle), "quipu_comm_group.handle too small for MPI_Comm");

static MPI_Comm group_comm(const quipu_comm_group *g) { return *(const MPI_Comm *)(const void *)g->handle; }

quipu_status quipu_comm_split_tp(const quipu_comm *c, int tp, quipu_comm_group *g, quipu_error *err) {
    memset(g, 0, sizeof *g);
    g->size = 1;
    g->dp_rank = c->rank;
    g->dp_size = c->size;
    if (tp == 1) return QUIPU_OK;
    if (tp < 1 || c->serial)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "tensor parallelism %d needs %d ranks on a node (this run has %d rank%s)", tp, tp,
                               c->size, c->size == 1 ? "" : "s");
    if (c->local_size % tp)
        return quipu_error_set(err, QUIPU_ERR_INVALID,
                               "tensor parallelism %d: a node runs %d rank%s, not a multiple of %d (a group must sit inside one node: run %d "
                               "or a multiple of it per node)",
                               tp, c->local_size, c->local_size == 1 ? "" : "s", tp, tp);
    MPI_Comm node, grp, rep;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    int rc = MPI_Comm_split(node, c->local_rank / tp, c->local_rank % tp, &grp);
    MPI_Comm_free(&node);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Comm_split (tensor-parallel group)");
    MPI_Comm_rank(grp, &g->rank);
    MPI_Comm_size(grp, &g->size);
    /* the replicas: the group leaders, numbered in world order; each member takes its leader's number */
    rc = MPI_Comm_split(MPI_COMM_WORLD, g->rank == 0 ? 0 : MPI_UNDEFINED, c->rank, &rep);
    if (rc != MPI_SUCCESS) {
        MPI_Comm_free(&grp);
        return mpi_fail(err, rc, "MPI_Comm_split (replicas)");
    }
    int v[2] = {0, 0};
    if (rep != MPI_COMM_NULL) {
        MPI_Comm_rank(rep, &v[0]);
        MPI_Comm_size(rep, &v[1]);
        MPI_Comm_free(&rep);
    }
    rc = MPI_Bcast(v, 2, MPI_INT, 0, grp);
    if (rc != MPI_SUCCESS) {
        MPI_Comm_free(&grp);
        return mpi_fail(err, rc, "MPI_Bcast (replica number)");
    }
    g->dp_rank = v[0];
    g->dp_size = v[1];
    memcpy(g->handle, &grp, sizeof grp);
    g->valid = 1;
    return QUIPU_OK;
}

void quipu_comm_group_free(quipu_comm_group *g) {
    if (!g || !g->valid) return;
    MPI_Comm grp = group_comm(g);
    MPI_Comm_free(&grp);
    g->valid = 0;
}

quipu_status quipu_comm_group_allgather(const quipu_comm_group *g, const void *send, size_t n, void *recv, quipu_error *err) {
    if (!g->valid) {
        if (n) memcpy(recv, send, n);
        return QUIPU_OK;
    }
    /* in chunks below INT_MAX bytes: chunk k of every member lands at member * n + k */
    char *tmp = NULL;
    size_t step = n < (size_t)INT_MAX / 2 ? n : (size_t)INT_MAX / 2;
    for (size_t off = 0; off < n; off += step) {
        size_t len = n - off < step ? n - off : step;
        if (len == n) {
            MPI_CHECK(MPI_Allgather(send, (int)n, MPI_BYTE, recv, (int)n, MPI_BYTE, group_comm(g)), "MPI_Allgather (tensor parallel)");
            return QUIPU_OK;
        }
        if (!tmp && !(tmp = malloc(step * (size_t)g->size))) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory (all-gather)");
        int rc = MPI_Allgather((const char *)send + off, (int)len, MPI_BYTE, tmp, (int)len, MPI_BYTE, group_comm(g));
        if (rc != MPI_SUCCESS) {
            free(tmp);
            return mpi_fail(err, rc, "MPI_Allgather (tensor parallel)");
        }
        for (int r = 0; r < g->size; r++) memcpy((char *)recv + (size_t)r * n + off, tmp + (size_t)r * len, len);
    }
    free(tmp);
    return QUIPU_OK;
}

quipu_status quipu_comm_group_bcast(const quipu_comm_group *g, void *buf, size_t n, quipu_error *err) {
    if (!g->valid) return QUIPU_OK;
    if (n > (size_t)INT_MAX) return quipu_error_set(err, QUIPU_ERR_INVALID, "broadcast of %zu bytes is too large", n);
    MPI_CHECK(MPI_Bcast(buf, (int)n, MPI_BYTE, 0, group_comm(g)), "MPI_Bcast (tensor parallel)");
    return QUIPU_OK;
}

#else /* serial twin */

int quipu_comm_with_mpi(void) { return 0; }

/* A build without MPI launched as one of several ranks would run full copies side by side,
 * each writing the same results: the launcher's size variables give it away. */
static long launched_ranks(const char **which) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                                       "SLURM_STEP_NUM_TASKS", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 1) {
            *which = vars[i];
            return n;
        }
    }
    return 1;
}

quipu_status quipu_comm_init(quipu_comm *c, int *argc, char ***argv, quipu_error *err) {
    memset(c, 0, sizeof *c);
    c->rank = 0;
    c->size = 1;
    c->local_size = 1;
    const char *which = NULL;
    long n = launched_ranks(&which);
    if (n > 1)
        return quipu_error_set(err, QUIPU_ERR_INVALID,
                               "this quipu was built without MPI but was started as one of %ld ranks (%s=%ld): each would score "
                               "everything into the same folder; rebuild with -DQUIPU_MPI=ON (quipu --version says), or run one process",
                               n, which, n);
    return QUIPU_OK;
}

void quipu_comm_finalize(quipu_comm *c) {}

quipu_status quipu_comm_progress_post(quipu_comm *c, const int64_t v[QUIPU_PROGRESS_LEN], int final, quipu_error *err) {
    return QUIPU_OK;
}

quipu_status quipu_comm_progress_poll(quipu_comm *c, quipu_progress_fn fn, void *ctx, quipu_error *err) { return QUIPU_OK; }

void quipu_comm_abort(const quipu_comm *c, int code) { exit(code); }

quipu_status quipu_comm_barrier(const quipu_comm *c, quipu_error *err) { return QUIPU_OK; }

quipu_status quipu_comm_gatherv(const quipu_comm *c, const void *send, size_t n, void **recv, size_t *recv_len, size_t *counts,
                                quipu_error *err) {
    return serial_gatherv(send, n, recv, recv_len, counts, err);
}

quipu_status quipu_comm_bcast(const quipu_comm *c, void *buf, size_t n, quipu_error *err) { return QUIPU_OK; }
quipu_status quipu_comm_allreduce_sum_i64(const quipu_comm *c, int64_t *v, int n, quipu_error *err) { return QUIPU_OK; }
quipu_status quipu_comm_allreduce_max_i64(const quipu_comm *c, int64_t *v, int n, quipu_error *err) { return QUIPU_OK; }

quipu_status quipu_comm_split_tp(const quipu_comm *c, int tp, quipu_comm_group *g, quipu_error *err) {
    memset(g, 0, sizeof *g);
    g->size = 1;
    g->dp_size = 1;
    if (tp != 1)
        return quipu_error_set(err, QUIPU_ERR_INVALID,
                               "tensor parallelism %d needs %d MPI ranks, and this quipu was built without MPI (rebuild with -DQUIPU_MPI=ON)", tp, tp);
    return QUIPU_OK;
}
void quipu_comm_group_free(quipu_comm_group *g) { (void)g; }
quipu_status quipu_comm_group_allgather(const quipu_comm_group *g, const void *send, size_t n, void *recv, quipu_error *err) {
    if (n) memcpy(recv, send, n);
    return QUIPU_OK;
}
quipu_status quipu_comm_group_bcast(const quipu_comm_group *g, void *buf, size_t n, quipu_error *err) { return QUIPU_OK; }

#endif

quipu_status quipu_comm_agree(const quipu_comm *c, quipu_status mine, quipu_error *err) {
    int64_t v = (int64_t)mine;
    quipu_error local = {0};
    if (quipu_comm_allreduce_max_i64(c, &v, 1, &local)) return quipu_error_set(err, local.code, "%s", local.msg);
    return (quipu_status)v;
}
