/* vendor.h — the one place where CUDA and HIP differ for quipu's kernels. Every .cu file in
 * kernels/ includes this instead of cuda_runtime.h, so hipcc builds the same sources for AMD
 * (gfx90a, MI250X) and nvcc for NVIDIA (sm_80, sm_90; sm_70 with CUDA 12 for V100).
 * - runtime names: qp* maps to cuda* or hip* (pinned host memory: cudaHostAlloc / hipHostMalloc);
 * - the warp: QP_WARP is 32 on NVIDIA and 64 on CDNA (a compile-time constant), and QP_SHFL_XOR
 *   names the width explicitly, for the warp-level kernels to come; today's kernels reduce
 *   through shared memory in fixed trees and depend on no warp size.
 * Kernels use no sm_80-only instruction (no cp.async, no bf16 mma; bf16 weights are widened to
 * fp32 by a shift, half.cuh), so the V100 path stays plain; the one exception,
 * attention_tc.cu's bf16 / f16 wmma, compiles to nothing below sm_80 and on HIP, and the backend
 * then keeps attention.cu. */
#ifndef QUIPU_KERNELS_VENDOR_H
#define QUIPU_KERNELS_VENDOR_H

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#include <hip/hip_runtime.h>
#define qpError_t hipError_t
#define qpSuccess hipSuccess
#define qpErrorInvalidValue hipErrorInvalidValue
#define qpGetErrorString hipGetErrorString
#define qpGetLastError hipGetLastError
#define qpMalloc hipMalloc
#define qpFree hipFree
#define qpMemcpy hipMemcpy
#define qpMemcpyAsync hipMemcpyAsync
#define qpMemcpy2DAsync hipMemcpy2DAsync
#define qpMemset hipMemset
#define qpMemsetAsync hipMemsetAsync
#define qpMemcpyHostToDevice hipMemcpyHostToDevice
#define qpMemcpyDeviceToHost hipMemcpyDeviceToHost
#define qpMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define qpStream_t hipStream_t
#define qpStreamCreate hipStreamCreate
#define qpStreamDestroy hipStreamDestroy
#define qpStreamSynchronize hipStreamSynchronize
#define qpGetDeviceCount hipGetDeviceCount
#define qpSetDevice hipSetDevice
#define qpGetDevice hipGetDevice
#define qpDeviceProp hipDeviceProp_t
#define qpGetDeviceProperties hipGetDeviceProperties
#define qpMemGetInfo hipMemGetInfo
#define qpEvent_t hipEvent_t
#define qpEventCreateWithFlags hipEventCreateWithFlags
#define qpEventDisableTiming hipEventDisableTiming
#define qpEventRecord hipEventRecord
#define qpEventSynchronize hipEventSynchronize
#define qpEventDestroy hipEventDestroy
#define qpStreamWaitEvent hipStreamWaitEvent
#define qpHostAlloc hipHostMalloc
#define qpHostAllocDefault hipHostMallocDefault
#define qpFreeHost hipHostFree
#define QP_WARP 64
#define QP_SHFL_XOR(v, m) __shfl_xor((v), (m), QP_WARP)
#if defined(QUIPU_HIP_CPU)
/* the GPU-on-the-CPU emulation build (the HIP CPU runtime, -DQUIPU_GPU_EMULATE, docs/gpu.md):
 * the bit casts a device compiler provides as intrinsics */
#include <cstring>
static inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
static inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
/* the rounded, never-fused float operations (a host compiler for x86-64 without -mfma does not
 * contract a * b + c) */
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
#endif
#else
#include <cuda_runtime.h>
#define qpError_t cudaError_t
#define qpSuccess cudaSuccess
#define qpErrorInvalidValue cudaErrorInvalidValue
#define qpGetErrorString cudaGetErrorString
#define qpGetLastError cudaGetLastError
#define qpMalloc cudaMalloc
#define qpFree cudaFree
#define qpMemcpy cudaMemcpy
#define qpMemcpyAsync cudaMemcpyAsync
#define qpMemcpy2DAsync cudaMemcpy2DAsync
#define qpMemset cudaMemset
#define qpMemsetAsync cudaMemsetAsync
#define qpMemcpyHostToDevice cudaMemcpyHostToDevice
#define qpMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define qpMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define qpStream_t cudaStream_t
#define qpStreamCreate cudaStreamCreate
#define qpStreamDestroy cudaStreamDestroy
#define qpStreamSynchronize cudaStreamSynchronize
#define qpGetDeviceCount cudaGetDeviceCount
#define qpSetDevice cudaSetDevice
#define qpGetDevice cudaGetDevice
#define qpDeviceProp cudaDeviceProp
#define qpGetDeviceProperties cudaGetDeviceProperties
#define qpMemGetInfo cudaMemGetInfo
#define qpEvent_t cudaEvent_t
#define qpEventCreateWithFlags cudaEventCreateWithFlags
#define qpEventDisableTiming cudaEventDisableTiming
#define qpEventRecord cudaEventRecord
#define qpEventSynchronize cudaEventSynchronize
#define qpEventDestroy cudaEventDestroy
#define qpStreamWaitEvent cudaStreamWaitEvent
#define qpHostAlloc cudaHostAlloc
#define qpHostAllocDefault cudaHostAllocDefault
#define qpFreeHost cudaFreeHost
#define QP_WARP 32
#define QP_SHFL_XOR(v, m) __shfl_xor_sync(0xffffffffu, (v), (m), QP_WARP)
#endif

#endif
