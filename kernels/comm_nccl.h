/* comm_nccl.h — NCCL / RCCL for tensor parallelism on GPUs (comm_nccl.cu). Calls return NULL on
 * success, else the library's message. */
#ifndef QUIPU_KERNELS_COMM_NCCL_H
#define QUIPU_KERNELS_COMM_NCCL_H

#include <stddef.h>

#include "vendor.h"

#define QK_NCCL_ID_BYTES 128

typedef struct qk_nccl qk_nccl;
int qk_nccl_available(void);
/* the group's rank 0 makes the id; every member then calls qk_nccl_init with it */
const char *qk_nccl_make_id(void *id);
const char *qk_nccl_init(qk_nccl **out, const void *id, int rank, int size);
/* every member's bytes at send, concatenated in member order at recv, on stream s */
const char *qk_nccl_allgather(qk_nccl *c, const void *send, void *recv, size_t bytes, qpStream_t s);
void qk_nccl_free(qk_nccl *c);

#endif
