/* half.cuh — reading weights stored in half precision. A model's weight matrices are F32, BF16
 * or F16 on the device (the loader rounded them on the host, src/backend.c's quipu_f32_to_bf16 /
 * quipu_f32_to_f16); the kernels widen each element to fp32 as they read it, exactly, and compute
 * in fp32 as in the exact mode. wload() is overloaded on the pointer type, so one templated kernel
 * serves the three types. bf16 -> fp32 is a shift (bf16 is the top half of an fp32): no
 * sm_80-only instruction, so the path builds for V100 (sm_70, CUDA 12) and for AMD alike. */
#ifndef QUIPU_KERNELS_HALF_CUH
#define QUIPU_KERNELS_HALF_CUH

#include "kernels.h"

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#include <hip/hip_fp16.h>
#else
#include <cuda_fp16.h>
#endif

/* a bf16 as its bits (not the toolkit's __nv_bfloat16, whose conversions need sm_80 headers) */
typedef struct qk_bf16 {
    uint16_t bits;
} qk_bf16;

/* fp32 -> bf16 / f16 bits, nearest even: the host's quipu_f32_to_bf16 / quipu_f32_to_f16
 * (src/backend.c) step for step, so the device rounds a weight to the same bits */
__device__ static inline uint16_t qk_f32_to_bf16_bits(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
__device__ static inline uint16_t qk_f32_to_f16_bits(float f) {
    uint32_t u = __float_as_uint(f), sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (u >= 0x38800000u) {
        uint32_t v = u - (112u << 23);
        v += 0x0fffu + ((v >> 13) & 1u);
        v >>= 13;
        return (uint16_t)(sign | (v >= 0x7c00u ? 0x7c00u : v));
    }
    if (u <= 0x33000000u) return (uint16_t)sign;
    uint32_t e = u >> 23, m = (u & 0x7fffffu) | 0x800000u, shift = 126u - e;
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

__device__ static inline float wload(const float *p, int64_t i) { return p[i]; }
__device__ static inline float wload(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ static inline float wload(const qk_bf16 *p, int64_t i) { return __uint_as_float((uint32_t)p[i].bits << 16); }

#endif
