/* dequant.cu — GGUF weights kept in their ggml blocks on the GPU, dequantized there: one thread
 * per block runs the per-block code the host runs (src/quant_blocks.h, products unfused), then
 * writes fp32, or rounds to bf16 / f16 to nearest even exactly as the loader does on the host
 * (src/backend.c's quipu_f32_to_bf16 / quipu_f32_to_f16). So a weight dequantized here has the
 * bits the host path gives it. Reference: quipu_dequantize (src/quant.c), itself checked against
 * the gguf package's values (tests/golden/dequant). */
#include "half.cuh"
#include "quant_blocks.h"

__global__ static void k_dequant(void *dst, int64_t ldd, qk_wtype wt, const uint8_t *src, int64_t lds, int64_t rows, int64_t blocks_per_row,
                                 uint32_t qtype, uint32_t bs, uint32_t bb) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * blocks_per_row) return;
    int64_t r = i / blocks_per_row, j = i % blocks_per_row;
    float y[256];
    qb_block(qtype, src + r * lds + j * (int64_t)bb, y);
    int64_t o = r * ldd + j * (int64_t)bs;
    for (uint32_t e = 0; e < bs; e++) {
        if (wt == QK_W_F32) ((float *)dst)[o + e] = y[e];
        else if (wt == QK_W_BF16) ((uint16_t *)dst)[o + e] = qk_f32_to_bf16_bits(y[e]);
        else ((uint16_t *)dst)[o + e] = qk_f32_to_f16_bits(y[e]);
    }
}

qpError_t qk_dequant(qpStream_t s, void *dst, int64_t ldd, qk_wtype wt, const uint8_t *src, int64_t lds, int64_t rows, int64_t cols,
                     uint32_t qtype, uint32_t block_size, uint32_t block_bytes) {
    if (!qb_has(qtype) || block_size == 0 || block_size > 256 || cols % block_size) return qpErrorInvalidValue;
    int64_t bpr = cols / block_size, n = rows * bpr;
    if (n == 0) return qpSuccess;
    k_dequant<<<(unsigned)((n + 127) / 128), 128, 0, s>>>(dst, ldd, wt, src, lds, rows, bpr, qtype, block_size, block_bytes);
    return qpGetLastError();
}
