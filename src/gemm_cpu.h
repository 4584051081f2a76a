/* gemm_cpu.h — the CPU backend's GEMM, batch invariant by construction.
 *
 * y[i*ldy + j] = sum_k x[i*K + k] * w[j*K + k]   (x: [M, K] rows, w: [N, K] rows, y: [M, N])
 *
 * Every output element is summed in one fixed order that depends on K alone: eight lanes, lane l
 * adds the products of k = l, l+8, l+16, ... in increasing k (a fused multiply-add each where
 * the machine has FMA), the lanes are added pairwise ((0+1)+(2+3))+((4+5)+(6+7)), then the
 * products of the last K mod 8 columns in order. Which tile, thread or remainder path computes
 * an element never changes that order, so a row's result never depends on the other rows of the
 * batch, their number or its position among them. (An optimized BLAS gives no such promise:
 * OpenBLAS 0.3.21 on AMD Zen sums a row differently at other positions of the same call.)
 * Threads split the outputs (j), never k. */
#ifndef QUIPU_GEMM_CPU_H
#define QUIPU_GEMM_CPU_H

#include <stdint.h>

void quipu_gemm_cpu(float *y, int64_t ldy, const float *x, const float *w, int64_t M, int64_t K, int64_t N);
/* the same with x's rows ldx floats apart (a slice of a wider activation) */
void quipu_gemm_cpu_ld(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w, int64_t M, int64_t K, int64_t N);
/* The kernel this machine runs ("avx2-fma" or "generic"): bits agree within one kind.
 * QUIPU_GEMM_KERNEL=generic forces the portable one (for tests: the two round differently). */
const char *quipu_gemm_cpu_kernel(void);

#endif
