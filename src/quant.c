/* quant.c — ggml tensor types: storage layout of every ggml type, and a plain C reference
 * dequantizer (one function per type) that reproduces ggml's dequantize_row_* bit for bit.
 * Shapes: a row is n elements = n/QK blocks; y[i*QK + j] is value j of block i. */
#include "quant.h"

#include <string.h>

#define QK_K 256

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

/* ---- little-endian field readers (blocks sit at any byte offset in the map) ---- */

static inline float half_at(const uint8_t *p) {
    return quipu_fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
}

/* ---- plain arrays ---- */

static void dequant_f32(const uint8_t *src, float *y, uint64_t n) {
    memcpy(y, src, n * sizeof(float));
}

static void dequant_f16(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) y[i] = half_at(src + 2 * i);
}

static void dequant_bf16(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) y[i] = quipu_bf16_to_fp32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
}

/* ---- 32-element blocks. Low nibbles hold elements 0..15, high nibbles 16..31. ---- */

/* Q4_0 (18 bytes): half d; u8 qs[16]. y = (q - 8) * d */
static void dequant_q4_0(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / 32; i++, src += 18, y += 32) {
        const float d = half_at(src);
        const uint8_t *qs = src + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

/* Q4_1 (20 bytes): half d, m; u8 qs[16]. y = q * d + m */
static void dequant_q4_1(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / 32; i++, src += 20, y += 32) {
        const float d = half_at(src);
        const float m = half_at(src + 2);
        const uint8_t *qs = src + 4;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(qs[j] & 0x0F) * d + m;
            y[j + 16] = (float)(qs[j] >> 4) * d + m;
        }
    }
}

/* Q5_0 (22 bytes): half d; u8 qh[4] (bit j = 5th bit of element j); u8 qs[16].
 * y = (q - 16) * d */
static void dequant_q5_0(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / 32; i++, src += 22, y += 32) {
        const float d = half_at(src);
        const uint32_t qh = (uint32_t)src[2] | (uint32_t)src[3] << 8 | (uint32_t)src[4] << 16 |
                            (uint32_t)src[5] << 24;
        const uint8_t *qs = src + 6;
        for (int j = 0; j < 16; j++) {
            const int x0 = (qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            const int x1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)(x0 - 16) * d;
            y[j + 16] = (float)(x1 - 16) * d;
        }
    }
}

/* Q5_1 (24 bytes): half d, m; u8 qh[4]; u8 qs[16]. y = q * d + m */
static void dequant_q5_1(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / 32; i++, src += 24, y += 32) {
        const float d = half_at(src);
        const float m = half_at(src + 2);
        const uint32_t qh = (uint32_t)src[4] | (uint32_t)src[5] << 8 | (uint32_t)src[6] << 16 |
                            (uint32_t)src[7] << 24;
        const uint8_t *qs = src + 8;
        for (int j = 0; j < 16; j++) {
            const int x0 = (qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            const int x1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)x0 * d + m;
            y[j + 16] = (float)x1 * d + m;
        }
    }
}

/* Q8_0 (34 bytes): half d; i8 qs[32]. y = q * d */
static void dequant_q8_0(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / 32; i++, src += 34, y += 32) {
        const float d = half_at(src);
        for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)src[2 + j] * d;
    }
}

/* ---- K-quants: 256-element super-blocks ---- */

/* The 12 scale bytes of Q4_K/Q5_K hold 8 (scale, min) pairs of 6 bits (ggml get_scale_min_k4). */
static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q2_K (84 bytes): u8 scales[16] (low nibble scale, high nibble min); u8 qs[64]; half d, dmin.
 * Two halves of 128 outputs use qs[32n..]; in each, shifts 0,2,4,6 give 2 x 16 outputs
 * with one scale byte each. y = d*sc*q - dmin*m */
static void dequant_q2_k(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / QK_K; i++, src += 84) {
        const uint8_t *scales = src;
        const uint8_t *q = src + 16;
        const float d = half_at(src + 80);
        const float dmin = half_at(src + 82);
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int k = 0; k < 2; k++) { /* q[0..15], then q[16..31] */
                    const uint8_t sc = scales[is++];
                    const float dl = d * (float)(sc & 0x0F);
                    const float ml = dmin * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[16 * k + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/* Q3_K (110 bytes): u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d.
 * 16 signed 6-bit scales: scale i has low 4 bits from scales[i] (i < 8) or the high nibble of
 * scales[i-8] (i >= 8), and high 2 bits from scales[8 + i%4] at bit 2*(i/4); value - 32.
 * The 2 low bits of element come from qs (as Q2_K); hmask bit (4*half + shift/2) of hmask[l]
 * is the third bit, and a CLEAR bit means subtract 4: q = low2 - (hbit ? 0 : 4). */
static void dequant_q3_k(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / QK_K; i++, src += 110) {
        const uint8_t *hm = src;
        const uint8_t *q = src + 32;
        const uint8_t *sb = src + 96;
        const float d_all = half_at(src + 108);
        int scales[16];
        for (int s = 0; s < 16; s++) {
            const int lo = s < 8 ? (sb[s] & 0x0F) : (sb[s - 8] >> 4);
            const int hi = (sb[8 + s % 4] >> (2 * (s / 4))) & 3;
            scales[s] = (lo | (hi << 4)) - 32;
        }
        int is = 0;
        uint8_t m = 1;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int k = 0; k < 2; k++) {
                    const float dl = d_all * (float)scales[is++];
                    for (int l = 16 * k; l < 16 * k + 16; l++) {
                        const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

/* Q4_K (144 bytes): half d, dmin; u8 scales[12]; u8 qs[128]. Four chunks of 64 outputs:
 * low nibbles of qs[32c..32c+31] with pair 2c, high nibbles with pair 2c+1.
 * y = d*sc*q - dmin*m (the min is subtracted) */
static void dequant_q4_k(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / QK_K; i++, src += 144) {
        const float d = half_at(src);
        const float dmin = half_at(src + 2);
        const uint8_t *scales = src + 4;
        const uint8_t *qs = src + 16;
        for (int c = 0; c < 4; c++, qs += 32) {
            int sc, m;
            scale_min_k4(2 * c, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(2 * c + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(qs[l] & 0x0F) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(qs[l] >> 4) - m2;
        }
    }
}

/* Q5_K (176 bytes): half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]. As Q4_K plus a
 * fifth bit: qh[l] bit 2c for the low-nibble element, bit 2c+1 for the high one. */
static void dequant_q5_k(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / QK_K; i++, src += 176) {
        const float d = half_at(src);
        const float dmin = half_at(src + 2);
        const uint8_t *scales = src + 4;
        const uint8_t *qh = src + 16;
        const uint8_t *ql = src + 48;
        for (int c = 0; c < 4; c++, ql += 32) {
            int sc, m;
            scale_min_k4(2 * c, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(2 * c + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

/* Q6_K (210 bytes): u8 ql[128]; u8 qh[64]; i8 scales[16]; half d (d is LAST).
 * Two halves of 128 outputs (ql += 64, qh += 32, scales += 8); for l = 0..31 and k = 0..3,
 * output l + 32k takes 4 bits from ql[l + 32*(k%2)] (low nibble for k < 2) and 2 bits from
 * qh[l] at bit 2k; q - 32 times d * scales[l/16 + 2k]. */
static void dequant_q6_k(const uint8_t *src, float *y, uint64_t n) {
    for (uint64_t i = 0; i < n / QK_K; i++, src += 210) {
        const uint8_t *ql = src;
        const uint8_t *qh = src + 128;
        const int8_t *sc = (const int8_t *)(src + 192);
        const float d = half_at(src + 208);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * (float)sc[is + 0] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
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
    case QUIPU_TYPE_Q4_0: dequant_q4_0(s, dst, n); break;
    case QUIPU_TYPE_Q4_1: dequant_q4_1(s, dst, n); break;
    case QUIPU_TYPE_Q5_0: dequant_q5_0(s, dst, n); break;
    case QUIPU_TYPE_Q5_1: dequant_q5_1(s, dst, n); break;
    case QUIPU_TYPE_Q8_0: dequant_q8_0(s, dst, n); break;
    case QUIPU_TYPE_Q2_K: dequant_q2_k(s, dst, n); break;
    case QUIPU_TYPE_Q3_K: dequant_q3_k(s, dst, n); break;
    case QUIPU_TYPE_Q4_K: dequant_q4_k(s, dst, n); break;
    case QUIPU_TYPE_Q5_K: dequant_q5_k(s, dst, n); break;
    case QUIPU_TYPE_Q6_K: dequant_q6_k(s, dst, n); break;
    default:
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "dequantize: type %s marked supported but not handled",
                               t->name);
    }
    return QUIPU_OK;
}
