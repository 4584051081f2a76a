/* safetensors.h — Hugging Face safetensors files (single or sharded with
 * model.safetensors.index.json), memory-mapped, untrusted: header length, JSON, dtypes,
 * shapes and data_offsets are all checked (exact tiling of the data buffer). */
#ifndef QUIPU_SAFETENSORS_H
#define QUIPU_SAFETENSORS_H

#include "common.h"

typedef struct quipu_st_tensor {
    char *name;
    uint32_t type;      /* quant.h id: QUIPU_TYPE_F32, _F16, _BF16; other dtypes are kept as
                         * QUIPU_TYPE_COUNT and rejected when read */
    char dtype[16];     /* the file's dtype string */
    uint32_t n_dims;
    uint64_t shape[8];  /* torch order: shape[n_dims-1] contiguous */
    const uint8_t *data;
    uint64_t nbytes;
    int shard;          /* index into the checkpoint's shard list */
} quipu_st_tensor;

typedef struct quipu_safetensors {
    char *dir;
    int n_shards;
    char **shard_paths;
    quipu_mmap *maps;
    uint64_t n_tensors;
    quipu_st_tensor *tensors;
} quipu_safetensors;

/* dir is a checkpoint directory: opens model.safetensors, or the shards named by
 * model.safetensors.index.json. A path to a single .safetensors file is accepted too. */
quipu_status quipu_safetensors_open(quipu_safetensors **out, const char *path, quipu_error *err);
void quipu_safetensors_free(quipu_safetensors *st);
/* Tensors are sorted by name; find bisects. Returns NULL if absent. */
const quipu_st_tensor *quipu_safetensors_find(const quipu_safetensors *st, const char *name);
/* Product of the shape (1 for a scalar). */
uint64_t quipu_st_tensor_numel(const quipu_st_tensor *t);
/* Converts tensor t (F32, F16 or BF16) to n = numel fp32 values in dst; other dtypes are
 * QUIPU_ERR_UNSUPPORTED ("SHARD: tensor 'x' has dtype I64; ..."). */
quipu_status quipu_safetensors_read_f32(const quipu_safetensors *st, const quipu_st_tensor *t, float *dst, uint64_t n,
                                        quipu_error *err);

#endif
