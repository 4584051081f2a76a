/* quant.c — ggml tensor types: storage layout of every ggml type, and a plain C reference
 * dequantizer that reproduces ggml's dequantize_row_* bit for bit (the per-block code is in
 * quant_blocks.h, shared with the GPU's kernels/dequant.cu).
 * Shapes: a row is n elements = n/QK blocks; y[i*QK + j] is value j of block i. */
#include "quant.h"
#include "quant_blocks.h"

#include <string.h>

/* Storage layout of every ggml type (ggml.c type traits; gguf-py GGML_QUANT_SIZES), whether
 * or not quipu can dequantize it: the GGUF reader needs it to size tensors of any type. */
typedef struct dtype_info {
    const char *name;
    uint32_t block_size; /* elements per block */
    uint32_t block_bytes;
    int supported;       /* quipu_dequantize handles it */
} dtype_info;

static const dtype_info dtype_table[QUIPU_TYPE_COUNT] = {
    [0] = {"F32", 1, 4, 1},
    [1] = {"F16", 1, 2, 1},
    [2] = {"Q4_0", 32, 18, 1},
    [3] = {"Q4_1", 32, 20, 1},
    [6] = {"Q5_0", 32, 22, 1},
    [7] = {"Q5_1", 32, 24, 1},
    [8] = {"Q8_0", 32, 34, 1},
    [9] = {"Q8_1", 32, 36, 0},
    [10] = {"Q2_K", 256, 84, 1},
    [11] = {"Q3_K", 256, 110, 1},
    [12] = {"Q4_K", 256, 144, 1},
    [13] = {"Q5_K", 256, 176, 1},
    [14] = {"Q6_K", 256, 210, 1},
    [15] = {"Q8_K", 256, 292, 0},
    [16] = {"IQ2_XXS", 256, 66, 0},
    [17] = {"IQ2_XS", 256, 74, 0},
    [18] = {"IQ3_XXS", 256, 98, 0},
    [19] = {"IQ1_S", 256, 50, 0},
    [20] = {"IQ4_NL", 32, 18, 0},
    [21] = {"IQ3_S", 256, 110, 0},
    [22] = {"IQ2_S", 256, 82, 0},
    [23] = {"IQ4_XS", 256, 136, 0},
    [24] = {"I8", 1, 1, 0},
    [25] = {"I16", 1, 2, 0},
    [26] = {"I32", 1, 4, 0},
    [27] = {"I64", 1, 8, 0},
    [28] = {"F64", 1, 8, 0},
    [29] = {"IQ1_M", 256, 56, 0},
    [30] = {"BF16", 1, 2, 1},
    [34] = {"TQ1_0", 256, 54, 0},
    [35] = {"TQ2_0", 256, 66, 0},
    [39] = {"MXFP4", 32, 17, 0},
    [40] = {"NVFP4", 64, 36, 0},
    [41] = {"Q1_0", 128, 18, 0},
};

static const dtype_info *dtype_lookup(uint32_t type) {
    if (type >= QUIPU_TYPE_COUNT || dtype_table[type].name == NULL) return NULL;
    return &dtype_table[type];
}

const char *quipu_dtype_name(uint32_t type) {
    const dtype_info *t = dtype_lookup(type);
    return t ? t->name : NULL;
}

int quipu_dtype_ggml_layout(uint32_t type, uint32_t *block_size, uint32_t *block_bytes) {
    const dtype_info *t = dtype_lookup(type);
    if (!t) return 0;
    *block_size = t->block_size;
    *block_bytes = t->block_bytes;
    return 1;
}

uint32_t quipu_dtype_block_size(uint32_t type) {
    const dtype_info *t = dtype_lookup(type);
    return (t && t->supported) ? t->block_size : 0;
}

uint32_t quipu_dtype_block_bytes(uint32_t type) {
    const dtype_info *t = dtype_lookup(type);
    return (t && t->supported) ? t->block_bytes : 0;
}

int quipu_dtype_row_bytes(uint32_t type, uint64_t n, uint64_t *out) {
    const dtype_info *t = dtype_lookup(type);
    if (!t || !t->supported || n % t->block_size != 0) return -1;
    return quipu_mul_overflow_u64(n / t->block_size, t->block_bytes, out);
}

/* ---- plain arrays ---- */

static void dequant_f32(const uint8_t *src, float *y, uint64_t n) {
    memcpy(y, src, n * sizeof(float));
}

static void dequant_f16(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) y[i] = qb_half(src + 2 * i);
}

static void dequant_bf16(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) y[i] = quipu_bf16_to_fp32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
}

/* ---- block types: quant_blocks.h, the code the GPU runs too ---- */

static void dequant_blocks(uint32_t type, const dtype_info *t, const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / t->block_size; i++, src += t->block_bytes, y += t->block_size) (void)qb_block(type, src, y);
}

quipu_status quipu_dequantize(uint32_t type, const void *src, float *dst, uint64_t n, quipu_error *err) {
    const dtype_info *t = dtype_lookup(type);
    if (!t) return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "dequantize: unknown tensor type %u", type);
    if (!t->supported)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "dequantize: tensor type %s (%u) is not supported by quipu",
                               t->name, type);
    if (n % t->block_size != 0)
        return quipu_error_set(err, QUIPU_ERR_INVALID,
                               "dequantize %s: %llu elements is not a multiple of the block size %u", t->name,
                               (unsigned long long)n, t->block_size);
    const uint8_t *s = src;
    switch (type) {
    case QUIPU_TYPE_F32: dequant_f32(s, dst, n); break;
    case QUIPU_TYPE_F16: dequant_f16(s, dst, n); break;
    case QUIPU_TYPE_BF16: dequant_bf16(s, dst, n); break;
    default:
        if (!qb_has(type))
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "dequantize: type %s marked supported but not handled", t->name);
        dequant_blocks(type, t, s, dst, n);
    }
    return QUIPU_OK;
}
