/* quant_blocks.h — one ggml block to fp32, for every type quipu dequantizes: the code the CPU
 * (quant.c) and the GPU (kernels/dequant.cu) both run, so a weight dequantized on the device has
 * the bits the host gives it. Each function reads one block at b (any byte alignment, fields
 * little-endian) and writes its QB_* elements to y. Products and sums go through QB_MUL / QB_SUB /
 * QB_ADD: on the GPU the round-to-nearest intrinsics, which the compiler never fuses into an FMA;
 * on the host plain operators in a file built with -ffp-contract=off. The formulas reproduce
 * ggml's dequantize_row_* (tests/golden/dequant: values from the gguf package). */
#ifndef QUIPU_QUANT_BLOCKS_H
#define QUIPU_QUANT_BLOCKS_H

#include <stdint.h>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define QB_FN __host__ __device__ static inline
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#define QB_MUL(a, b) __fmul_rn((a), (b))
#define QB_SUB(a, b) __fsub_rn((a), (b))
#define QB_ADD(a, b) __fadd_rn((a), (b))
#endif
#else
#define QB_FN static inline
#endif
#ifndef QB_MUL
#define QB_MUL(a, b) ((a) * (b))
#define QB_SUB(a, b) ((a) - (b))
#define QB_ADD(a, b) ((a) + (b))
#endif

QB_FN float qb_bits_f32(uint32_t u) {
    union {
        uint32_t u;
        float f;
    } v;
    v.u = u;
    return v.f;
}

/* IEEE half (little-endian at p) to fp32, exactly (subnormals normalised) */
QB_FN float qb_half(const uint8_t *p) {
    uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    uint32_t sign = (h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    return qb_bits_f32(bits);
}

QB_FN uint32_t qb_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* ---- 32-element blocks: low nibbles hold elements 0..15, high nibbles 16..31 ---- */

/* Q4_0 (18 bytes): half d; u8 qs[16]. y = (q - 8) * d */
QB_FN void qb_q4_0(const uint8_t *b, float *y) {
    const float d = qb_half(b);
    for (int j = 0; j < 16; j++) {
        y[j] = QB_MUL((float)((b[2 + j] & 0x0F) - 8), d);
        y[j + 16] = QB_MUL((float)((b[2 + j] >> 4) - 8), d);
    }
}

/* Q4_1 (20 bytes): half d, m; u8 qs[16]. y = q * d + m */
QB_FN void qb_q4_1(const uint8_t *b, float *y) {
    const float d = qb_half(b), m = qb_half(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = QB_ADD(QB_MUL((float)(b[4 + j] & 0x0F), d), m);
        y[j + 16] = QB_ADD(QB_MUL((float)(b[4 + j] >> 4), d), m);
    }
}

/* Q5_0 (22 bytes): half d; u8 qh[4] (bit j: the fifth bit of element j); u8 qs[16]. y = (q - 16) * d */
QB_FN void qb_q5_0(const uint8_t *b, float *y) {
    const float d = qb_half(b);
    const uint32_t qh = qb_u32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        const int x0 = (qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
        const int x1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = QB_MUL((float)(x0 - 16), d);
        y[j + 16] = QB_MUL((float)(x1 - 16), d);
    }
}

/* Q5_1 (24 bytes): half d, m; u8 qh[4]; u8 qs[16]. y = q * d + m */
QB_FN void qb_q5_1(const uint8_t *b, float *y) {
    const float d = qb_half(b), m = qb_half(b + 2);
    const uint32_t qh = qb_u32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        const int x0 = (qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
        const int x1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = QB_ADD(QB_MUL((float)x0, d), m);
        y[j + 16] = QB_ADD(QB_MUL((float)x1, d), m);
    }
}

/* Q8_0 (34 bytes): half d; i8 qs[32]. y = q * d */
QB_FN void qb_q8_0(const uint8_t *b, float *y) {
    const float d = qb_half(b);
    for (int j = 0; j < 32; j++) y[j] = QB_MUL((float)(int8_t)b[2 + j], d);
}

/* ---- K-quants: 256-element super-blocks ---- */

/* The 12 scale bytes of Q4_K/Q5_K hold 8 (scale, min) pairs of 6 bits (ggml get_scale_min_k4). */
QB_FN void qb_scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q2_K (84 bytes): u8 scales[16] (low nibble scale, high nibble min); u8 qs[64]; half d, dmin.
 * Two halves of 128 outputs use qs[32n..]; in each, shifts 0,2,4,6 give 2 x 16 outputs with
 * one scale byte each. y = d*sc*q - dmin*m */
QB_FN void qb_q2_k(const uint8_t *b, float *y) {
    const uint8_t *scales = b, *q = b + 16;
    const float d = qb_half(b + 80), dmin = qb_half(b + 82);
    int is = 0;
    for (int half = 0; half < 2; half++, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int k = 0; k < 2; k++) { /* q[0..15], then q[16..31] */
                const uint8_t sc = scales[is++];
                const float dl = QB_MUL(d, (float)(sc & 0x0F)), ml = QB_MUL(dmin, (float)(sc >> 4));
                for (int l = 0; l < 16; l++) *y++ = QB_SUB(QB_MUL(dl, (float)((q[16 * k + l] >> shift) & 3)), ml);
            }
}

/* Q3_K (110 bytes): u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d. 16 signed 6-bit scales:
 * scale i has its low 4 bits from scales[i] (i < 8) or the high nibble of scales[i-8] (i >= 8),
 * its high 2 bits from scales[8 + i%4] at bit 2*(i/4); value - 32. The 2 low bits of an element
 * come from qs (as Q2_K); hmask bit (4*half + shift/2) of hmask[l] is the third, and a CLEAR
 * bit means subtract 4. */
QB_FN void qb_q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *q = b + 32, *sb = b + 96;
    const float d_all = qb_half(b + 108);
    int scales[16];
    for (int s = 0; s < 16; s++) {
        const int lo = s < 8 ? (sb[s] & 0x0F) : (sb[s - 8] >> 4);
        const int hi = (sb[8 + s % 4] >> (2 * (s / 4))) & 3;
        scales[s] = (lo | (hi << 4)) - 32;
    }
    int is = 0;
    uint8_t m = 1;
    for (int half = 0; half < 2; half++, q += 32)
        for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1))
            for (int k = 0; k < 2; k++) {
                const float dl = QB_MUL(d_all, (float)scales[is++]);
                for (int l = 16 * k; l < 16 * k + 16; l++) {
                    const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                    *y++ = QB_MUL(dl, (float)v);
                }
            }
}

/* Q4_K (144 bytes): half d, dmin; u8 scales[12]; u8 qs[128]. Four chunks of 64 outputs: low
 * nibbles of qs[32c..32c+31] with pair 2c, high nibbles with pair 2c+1. y = d*sc*q - dmin*m */
QB_FN void qb_q4_k(const uint8_t *b, float *y) {
    const float d = qb_half(b), dmin = qb_half(b + 2);
    const uint8_t *scales = b + 4, *qs = b + 16;
    for (int c = 0; c < 4; c++, qs += 32) {
        int sc, m;
        qb_scale_min_k4(2 * c, scales, &sc, &m);
        const float d1 = QB_MUL(d, (float)sc), m1 = QB_MUL(dmin, (float)m);
        qb_scale_min_k4(2 * c + 1, scales, &sc, &m);
        const float d2 = QB_MUL(d, (float)sc), m2 = QB_MUL(dmin, (float)m);
        for (int l = 0; l < 32; l++) *y++ = QB_SUB(QB_MUL(d1, (float)(qs[l] & 0x0F)), m1);
        for (int l = 0; l < 32; l++) *y++ = QB_SUB(QB_MUL(d2, (float)(qs[l] >> 4)), m2);
    }
}

/* Q5_K (176 bytes): half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]. As Q4_K plus a fifth
 * bit: qh[l] bit 2c for the low-nibble element, bit 2c+1 for the high one. */
QB_FN void qb_q5_k(const uint8_t *b, float *y) {
    const float d = qb_half(b), dmin = qb_half(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    for (int c = 0; c < 4; c++, ql += 32) {
        int sc, m;
        qb_scale_min_k4(2 * c, scales, &sc, &m);
        const float d1 = QB_MUL(d, (float)sc), m1 = QB_MUL(dmin, (float)m);
        qb_scale_min_k4(2 * c + 1, scales, &sc, &m);
        const float d2 = QB_MUL(d, (float)sc), m2 = QB_MUL(dmin, (float)m);
        const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
        for (int l = 0; l < 32; l++) *y++ = QB_SUB(QB_MUL(d1, (float)((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0))), m1);
        for (int l = 0; l < 32; l++) *y++ = QB_SUB(QB_MUL(d2, (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0))), m2);
    }
}

/* Q6_K (210 bytes): u8 ql[128]; u8 qh[64]; i8 scales[16]; half d (last). Two halves of 128
 * outputs (ql += 64, qh += 32, scales += 8); for l = 0..31 and k = 0..3, output l + 32k takes 4
 * bits from ql[l + 32*(k%2)] (low nibble for k < 2) and 2 bits from qh[l] at bit 2k; q - 32 times
 * d * scales[l/16 + 2k]. */
QB_FN void qb_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = qb_half(b + 208);
    for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128)
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = QB_MUL(QB_MUL(d, (float)sc[is + 0]), (float)q1);
            y[l + 32] = QB_MUL(QB_MUL(d, (float)sc[is + 2]), (float)q2);
            y[l + 64] = QB_MUL(QB_MUL(d, (float)sc[is + 4]), (float)q3);
            y[l + 96] = QB_MUL(QB_MUL(d, (float)sc[is + 6]), (float)q4);
        }
}

/* Whether t (a quipu_dtype id) is a block type handled here. */
QB_FN int qb_has(uint32_t t) { return t == 2 || t == 3 || t == 6 || t == 7 || t == 8 || (t >= 10 && t <= 14); }

/* One block of type t (a quipu_dtype id) to y; 0 if t is not a block type handled here. Block
 * sizes and bytes: quant.c's table (quipu_dtype_block_size / _block_bytes). */
QB_FN int qb_block(uint32_t t, const uint8_t *b, float *y) {
    switch (t) {
    case 2: qb_q4_0(b, y); return 1;
    case 3: qb_q4_1(b, y); return 1;
    case 6: qb_q5_0(b, y); return 1;
    case 7: qb_q5_1(b, y); return 1;
    case 8: qb_q8_0(b, y); return 1;
    case 10: qb_q2_k(b, y); return 1;
    case 11: qb_q3_k(b, y); return 1;
    case 12: qb_q4_k(b, y); return 1;
    case 13: qb_q5_k(b, y); return 1;
    case 14: qb_q6_k(b, y); return 1;
    default: return 0;
    }
}

#endif
