/* quant.h — ggml tensor types and their per-row dequantization to fp32 (plain C reference;
 * kernels/dequant.cu is checked against it). Blocks never straddle rows. */
#ifndef QUIPU_QUANT_H
#define QUIPU_QUANT_H

#include "common.h"

typedef enum quipu_dtype {
    QUIPU_TYPE_F32 = 0, QUIPU_TYPE_F16 = 1, QUIPU_TYPE_Q4_0 = 2, QUIPU_TYPE_Q4_1 = 3,
    QUIPU_TYPE_Q5_0 = 6, QUIPU_TYPE_Q5_1 = 7, QUIPU_TYPE_Q8_0 = 8, QUIPU_TYPE_Q8_1 = 9,
    QUIPU_TYPE_Q2_K = 10, QUIPU_TYPE_Q3_K = 11, QUIPU_TYPE_Q4_K = 12, QUIPU_TYPE_Q5_K = 13,
    QUIPU_TYPE_Q6_K = 14, QUIPU_TYPE_Q8_K = 15, QUIPU_TYPE_BF16 = 30,
    QUIPU_TYPE_COUNT = 43
} quipu_dtype;

/* Name ("Q4_K"), or NULL if the id is unknown to quipu. */
const char *quipu_dtype_name(uint32_t type);
/* Elements per block and bytes per block; 0 if the type cannot be dequantized by quipu. */
uint32_t quipu_dtype_block_size(uint32_t type);
uint32_t quipu_dtype_block_bytes(uint32_t type);
/* Storage layout of any type ggml knows (including ones quipu cannot dequantize, e.g. IQ4_XS),
 * so a file reader can size every tensor: returns 1 and sets both, or 0 if the id is unknown. */
int quipu_dtype_ggml_layout(uint32_t type, uint32_t *block_size, uint32_t *block_bytes);
/* Bytes of a row of n elements; returns -1 if n is not a multiple of the block size or the
 * type is unsupported. */
int quipu_dtype_row_bytes(uint32_t type, uint64_t n, uint64_t *out);
/* Dequantizes n elements (a multiple of the block size) from src into dst. */
quipu_status quipu_dequantize(uint32_t type, const void *src, float *dst, uint64_t n, quipu_error *err);

#endif
