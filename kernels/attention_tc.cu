/* attention_tc.cu — attention for scoring (prefill only) on tensor cores, for a backend computing
 * in bf16 or f16: the same packed, prefix-sharing layout and masks as attention.cu (which stays
 * the exact mode: dtype f32, QUIPU_GPU_ATTN=exact, HIP, sm < 80, head dims past 256).
 * Shape letters: T tokens, H / HKV heads, HD head dim (HDP: padded to 16), BM queries per tile,
 * BN keys per chunk (attention_tc.h).
 *
 * One block per (tile, head): a tile is up to BM consecutive queries of one segment (the tile
 * list is built on the device into the op workspace by k_tc_tiles, from the layout vectors).
 * Per chunk of BN keys: S = Q K^T (q and k rounded to nearest in the half type as they are staged,
 * nvcuda::wmma 16x16x16, fp32 sums), stored to shared memory in fp32; each row's online softmax in
 * fp32 by four threads in a fixed order; P (rounded to the half type) times V on tensor cores into
 * shared memory in fp32; the row's output accumulator (fp32, shared memory) rescaled and added by
 * plain code. Nothing depends on a fragment's register layout: fragments only go between shared
 * memory and the mma.
 *
 * Batch invariance, and a shared prompt's bits equal to a repeated prompt's: every query visits
 * its prefix keys then its own segment's as one virtual sequence in chunks at virtual indices that
 * are multiples of BN; a row's scores, its max, its sum (p as rounded, the weights the products
 * use) and its products depend only on its own q and on those keys at those columns; a chunk with
 * no key visible to a row leaves the row's state untouched (not even multiplied by 1); rows past
 * the tile's queries and keys past its range are zeros, never another row's data. What this relies
 * on from the hardware: an mma's output element depends only on its own row of A, column of B and
 * accumulator, in a fixed order of the k dimension, whatever its position in the fragment (the
 * per-op test, and the backend's proof before first use, qk_attention_tc_prove below, check that
 * on the device: a shared prompt's continuations sit at other rows of their tiles than the
 * repeated prompt's).
 * Reference: cpu_attention (src/backend_cpu.c); the plain-C emulation in tests/test_backend_ops.c. */
#include "attention_tc.h"
#include "kernels.h"

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)

/* HIP: no tensor-core path yet (the fp32 kernel runs) */
int64_t qk_attention_tc_max_hd(void) { return 0; }
qpError_t qk_attention_tc(qpStream_t s, const qk_att_args *a, int bf16, void *ws, size_t ws_bytes) { return qpErrorInvalidValue; }
const char *qk_attention_tc_prove(qpStream_t s, int bf16, int64_t HD, char *why, size_t why_len) { return "no tensor-core attention on HIP"; }

#else

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#define TC_THREADS 128 /* four warps: four threads per query row, one 16-key column block each */
#define TC_WARPS (TC_THREADS / 32)
#define TC_LDS (QK_TC_BN + 4) /* fp32 score rows (a multiple of 4 floats, as wmma stores need) */
#define TC_LDP (QK_TC_BN + 8) /* half P rows (a multiple of 8 halves, as wmma loads need) */
#define TC_TILE_THREADS QK_TC_LIST_THREADS

static_assert(TC_THREADS == 4 * QK_TC_BM, "four threads per query row");
static_assert(QK_TC_BN / 16 == TC_WARPS, "one 16-key column block of S per warp");
static_assert(QK_TC_BM == 32, "S tiles are two 16-row blocks");
static_assert(QK_TC_BN == 64, "a row's quarter is 16 keys");

/* The tile list (attention_tc.h): one block; each thread counts the tile starts of its share of
 * the tokens, an exclusive scan of the counts gives where it writes them. Integer only, so any
 * order gives the same list. */
__global__ static void __launch_bounds__(TC_TILE_THREADS)
    k_tc_tiles(int32_t *tiles, const int32_t *seg_lo, const int32_t *seg_hi, const int32_t *pre_lo, const int32_t *pre_hi, int64_t T) {
    __shared__ int32_t cnt[TC_TILE_THREADS];
    int tid = threadIdx.x;
    int32_t c = qk_tc_tiles_count(tid, TC_TILE_THREADS, T, seg_lo, seg_hi, pre_lo, pre_hi);
    cnt[tid] = c;
    __syncthreads();
    for (int off = 1; off < TC_TILE_THREADS; off *= 2) { /* inclusive scan */
        int32_t v = tid >= off ? cnt[tid - off] : 0;
        __syncthreads();
        cnt[tid] += v;
        __syncthreads();
    }
    qk_tc_tiles_write(tiles, tid, TC_TILE_THREADS, T, cnt[tid] - c, cnt[TC_TILE_THREADS - 1], seg_lo, seg_hi, pre_lo, pre_hi);
}

/* rounding to the half type (nearest, ties to even, as the host's quipu_f32_to_bf16 / _f16). f16
 * saturates at +-65504: an infinite v would turn the zero weight of every row that does not see
 * its key into NaN (0 * inf), making rows depend on their tile's other rows' keys */
template <typename HT> struct tc_half;
template <> struct tc_half<__half> {
    __device__ static __half of(float x) { return __float2half_rn(x != x ? x : fminf(fmaxf(x, -65504.0f), 65504.0f)); }
    __device__ static float f(__half h) { return __half2float(h); }
};
template <> struct tc_half<__nv_bfloat16> {
    __device__ static __nv_bfloat16 of(float x) { return __float2bfloat16_rn(x); }
    __device__ static float f(__nv_bfloat16 h) { return __bfloat162float(h); }
};

/* shared memory: byte offsets of each array, 128-byte aligned (wmma needs 32) */
struct tc_smem {
    size_t q, kpv, v, s, p, o, m, l, corr, upd, key, kpos, total;
};
__host__ __device__ static size_t tc_up(size_t n) { return (n + 127) / 128 * 128; }
__host__ __device__ static tc_smem tc_layout(int64_t HDP) {
    size_t ldh = (size_t)HDP + 8, ldf = (size_t)HDP + 4, at = 0;
    size_t kbytes = QK_TC_BN * ldh * 2, pvbytes = QK_TC_BM * ldf * 4;
    tc_smem L;
    L.q = at, at += tc_up(QK_TC_BM * ldh * 2);                     /* Q tile, half [BM][ldh] */
    L.kpv = at, at += tc_up(kbytes > pvbytes ? kbytes : pvbytes);  /* K chunk half [BN][ldh], then P V fp32 [BM][ldf] */
    L.v = at, at += tc_up(QK_TC_BN * ldh * 2);                     /* V chunk, half [BN][ldh] */
    L.s = at, at += tc_up(QK_TC_BM * TC_LDS * 4);                  /* scores, fp32 [BM][LDS] */
    L.p = at, at += tc_up(QK_TC_BM * TC_LDP * 2);                  /* P, half [BM][LDP] */
    L.o = at, at += tc_up(QK_TC_BM * ldf * 4);                     /* output accumulator, fp32 [BM][ldf] */
    L.m = at, at += tc_up(QK_TC_BM * 4);                           /* per row: running max */
    L.l = at, at += tc_up(QK_TC_BM * 4);                           /* running sum */
    L.corr = at, at += tc_up(QK_TC_BM * 4);                        /* this chunk's rescaling */
    L.upd = at, at += tc_up(QK_TC_BM * 4);                         /* 1: the chunk has keys the row sees */
    L.key = at, at += tc_up(QK_TC_BN * 4);                         /* the chunk's tokens (-1 past the tile's keys) */
    L.kpos = at, at += tc_up(QK_TC_BN * 4);                        /* and their positions */
    L.total = at;
    return L;
}

template <typename HT>
__global__ static void __launch_bounds__(TC_THREADS) k_attention_tc(qk_att_args a, const int32_t *tiles, int HDP) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800 /* bf16 wmma: sm_80; the host never launches it below */
    using namespace nvcuda;
    typedef tc_half<HT> cv;
    extern __shared__ __align__(128) unsigned char smem[];
    const tc_smem L = tc_layout(HDP);
    const int ldh = HDP + 8, ldf = HDP + 4;
    HT *Qs = (HT *)(smem + L.q), *Ks = (HT *)(smem + L.kpv), *Vs = (HT *)(smem + L.v), *Ph = (HT *)(smem + L.p);
    float *PV = (float *)(smem + L.kpv), *Sf = (float *)(smem + L.s), *Of = (float *)(smem + L.o);
    float *Mrow = (float *)(smem + L.m), *Lrow = (float *)(smem + L.l), *Crow = (float *)(smem + L.corr);
    int *Upd = (int *)(smem + L.upd);
    int32_t *key = (int32_t *)(smem + L.key), *kpos = (int32_t *)(smem + L.kpos);

    const int tid = threadIdx.x, warp = tid / 32, row = tid / 4, quarter = tid % 4;
    const int64_t H = a.H, HD = a.HD, h = blockIdx.y, hk = h / (H / a.HKV);
    const int have_alibi = a.alibi != NULL;
    const float slope = have_alibi ? a.alibi[h] : 0.0f;
    const int32_t n_tiles = tiles[0];
    for (int32_t ti = blockIdx.x; ti < n_tiles; ti += gridDim.x) {
        const int32_t t0 = tiles[1 + ti], nq = tiles[2 + ti] - t0; /* 1 <= nq <= BM */
        const int32_t slo = a.seg_lo[t0], shi = a.seg_hi[t0], plo = a.pre_lo[t0], phi = a.pre_hi[t0];
        /* the tile's keys: its last query's (causal) or the segment's (bidirectional) */
        const int64_t n_max = qk_tc_n_keys(t0 + nq - 1, a.causal, slo, shi, plo, phi);
        /* this thread's row */
        const int active = row < nq;
        const int64_t t = t0 + row;
        const int64_t n_row = active ? qk_tc_n_keys(t, a.causal, slo, shi, plo, phi) : 0;
        const int32_t pos_t = active ? a.pos[t] : 0;

        for (int i = tid; i < QK_TC_BM * HDP; i += TC_THREADS) { /* 32-bit index arithmetic: at most 32 x 256 */
            int r = i / HDP, d = i % HDP;
            float x = r < nq && d < HD ? a.q[(t0 + r) * a.ldq + h * HD + d] : 0.0f;
            Qs[r * ldh + d] = cv::of(x);
            Of[r * ldf + d] = 0.0f;
        }
        if (tid < QK_TC_BM) Mrow[tid] = -INFINITY, Lrow[tid] = 0.0f;

        for (int64_t j0 = 0; j0 < n_max; j0 += QK_TC_BN) {
            __syncthreads(); /* the previous chunk (or tile) is done with key, K/PV, V, S, P */
            for (int c = tid; c < QK_TC_BN; c += TC_THREADS) {
                int64_t j = j0 + c;
                int32_t s = j < n_max ? (int32_t)qk_tc_key(j, slo, plo, phi) : -1;
                key[c] = s;
                kpos[c] = s >= 0 ? a.pos[s] : 0;
            }
            __syncthreads();
            /* which of this row's 16 keys it sees; a chunk no row sees is skipped (for each row,
             * exactly what a chunk it does not see is: nothing) */
            unsigned seen = 0;
            for (int i = 0; i < 16; i++) {
                int c = quarter * 16 + i;
                if (active && j0 + c < n_row && qk_tc_in_window(pos_t, kpos[c], a.window)) seen |= 1u << i;
            }
            if (!__syncthreads_or(seen != 0)) continue;
            for (int i = tid; i < QK_TC_BN * HDP; i += TC_THREADS) {
                int c = i / HDP, d = i % HDP;
                int32_t s = key[c];
                int ok = s >= 0 && d < HD;
                Ks[c * ldh + d] = cv::of(ok ? a.k[(int64_t)s * a.ldk + hk * HD + d] : 0.0f);
                Vs[c * ldh + d] = cv::of(ok ? a.v[(int64_t)s * a.ldv + hk * HD + d] : 0.0f);
            }
            __syncthreads();
            { /* S = Q K^T: warp w computes the 32 rows x keys [16 w, 16 w + 16) */
                wmma::fragment<wmma::matrix_a, 16, 16, 16, HT, wmma::row_major> a0, a1;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, HT, wmma::col_major> bk;
                wmma::fragment<wmma::accumulator, 16, 16, 16, float> s0, s1;
                wmma::fill_fragment(s0, 0.0f);
                wmma::fill_fragment(s1, 0.0f);
                for (int kk = 0; kk < HDP; kk += 16) {
                    wmma::load_matrix_sync(a0, Qs + kk, ldh);
                    wmma::load_matrix_sync(a1, Qs + 16 * ldh + kk, ldh);
                    wmma::load_matrix_sync(bk, Ks + warp * 16 * ldh + kk, ldh); /* K^T: column n is key row n */
                    wmma::mma_sync(s0, a0, bk, s0);
                    wmma::mma_sync(s1, a1, bk, s1);
                }
                wmma::store_matrix_sync(Sf + warp * 16, s0, TC_LDS, wmma::mem_row_major);
                wmma::store_matrix_sync(Sf + 16 * TC_LDS + warp * 16, s1, TC_LDS, wmma::mem_row_major);
            }
            __syncthreads();
            { /* the row's online softmax over its chunk, four threads per row, a fixed order */
                float sc[16], mx = -INFINITY;
                for (int i = 0; i < 16; i++) {
                    int c = quarter * 16 + i;
                    sc[i] = (seen >> i) & 1u ? qk_tc_score(Sf[row * TC_LDS + c], a.scale, a.softcap, have_alibi, slope, pos_t, kpos[c]) : -INFINITY;
                    mx = fmaxf(mx, sc[i]);
                }
                /* the four quarters of a row are lanes 4r..4r+3 of one warp: max and sum by xor
                 * 1 then 2, the same bits in all four (fmaxf and + commute exactly) */
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_old = Mrow[row];
                const int upd = mx != -INFINITY; /* the row sees a key of this chunk */
                const float m_new = upd ? fmaxf(m_old, mx) : m_old;
                float sum = 0.0f;
                for (int i = 0; i < 16; i++) {
                    HT p = cv::of(upd && sc[i] != -INFINITY ? expf(sc[i] - m_new) : 0.0f);
                    Ph[row * TC_LDP + quarter * 16 + i] = p;
                    sum += cv::f(p); /* the weights the products use */
                }
                sum += __shfl_xor_sync(0xffffffffu, sum, 1);
                sum += __shfl_xor_sync(0xffffffffu, sum, 2);
                __syncwarp(); /* every lane has read Mrow before its row's first lane writes it */
                if (quarter == 0) {
                    Upd[row] = upd;
                    if (upd) {
                        float corr = qk_tc_corr(m_old, m_new);
                        Crow[row] = corr;
                        Lrow[row] = Lrow[row] * corr + sum;
                        Mrow[row] = m_new;
                    }
                }
            }
            __syncthreads();
            /* P V: warp w computes output column blocks w, w + 4, ... into PV (K's space: S is done) */
            for (int nb = warp; nb < HDP / 16; nb += TC_WARPS) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, HT, wmma::row_major> p0, p1;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, HT, wmma::row_major> bv;
                wmma::fragment<wmma::accumulator, 16, 16, 16, float> o0, o1;
                wmma::fill_fragment(o0, 0.0f);
                wmma::fill_fragment(o1, 0.0f);
                for (int kk = 0; kk < QK_TC_BN; kk += 16) {
                    wmma::load_matrix_sync(p0, Ph + kk, TC_LDP);
                    wmma::load_matrix_sync(p1, Ph + 16 * TC_LDP + kk, TC_LDP);
                    wmma::load_matrix_sync(bv, Vs + kk * ldh + nb * 16, ldh);
                    wmma::mma_sync(o0, p0, bv, o0);
                    wmma::mma_sync(o1, p1, bv, o1);
                }
                wmma::store_matrix_sync(PV + nb * 16, o0, ldf, wmma::mem_row_major);
                wmma::store_matrix_sync(PV + 16 * ldf + nb * 16, o1, ldf, wmma::mem_row_major);
            }
            __syncthreads();
            if (Upd[row]) { /* a row that saw nothing here keeps its accumulator's bits */
                const float corr = Crow[row];
                for (int d = quarter; d < HDP; d += 4) Of[row * ldf + d] = Of[row * ldf + d] * corr + PV[row * ldf + d];
            }
        }
        __syncthreads();
        for (int i = tid; i < nq * (int)HD; i += TC_THREADS) {
            int r = i / (int)HD, d = i % (int)HD;
            a.out[(t0 + r) * a.ldo + h * HD + d] = Of[r * ldf + d] / Lrow[r];
        }
        __syncthreads(); /* the next tile rewrites Q, O and the row state */
    }
#endif
}

/* The largest head dim the kernel takes on the current device: 0 unless it was built for the
 * device's architecture at sm_80 or above (not from an older one's PTX), so bf16 wmma is there;
 * then QK_TC_MAX_HD, or less where the block's shared memory would not fit (sm_86 / sm_89 give
 * a block 99 KiB, sm_80 163 KiB, sm_90 227 KiB). Asked once per backend. */
int64_t qk_attention_tc_max_hd(void) {
    cudaFuncAttributes fa;
    int dev = 0, optin = 0;
    if (cudaFuncGetAttributes(&fa, k_attention_tc<__nv_bfloat16>) != cudaSuccess || cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    if (fa.binaryVersion < 80 || (fa.ptxVersion != 0 && fa.ptxVersion < 80)) return 0;
    int64_t hd = QK_TC_MAX_HD;
    while (hd > 0 && tc_layout(hd).total > (size_t)optin) hd -= 16;
    return hd;
}

template <typename HT> static qpError_t tc_launch(qpStream_t s, const qk_att_args *a, int32_t *tiles, int64_t HDP) {
    size_t bytes = tc_layout(HDP).total;
    qpError_t e = cudaFuncSetAttribute(k_attention_tc<HT>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (e != qpSuccess) return e;
    /* the number of tiles is on the device: between ceil(T / BM) and T; blocks beyond it loop */
    int64_t gx = 2 * ((a->T + QK_TC_BM - 1) / QK_TC_BM) + 1;
    if (gx > a->T) gx = a->T;
    if (gx > 65535) gx = 65535;
    k_attention_tc<HT><<<dim3((unsigned)gx, (unsigned)a->H), TC_THREADS, bytes, s>>>(*a, tiles, (int)HDP);
    return qpGetLastError();
}

qpError_t qk_attention_tc(qpStream_t s, const qk_att_args *a, int bf16, void *ws, size_t ws_bytes) {
    if (a->T == 0) return qpSuccess;
    if (a->HD > QK_TC_MAX_HD || a->HKV <= 0 || a->H % a->HKV || a->H > 65535 || a->T >= INT32_MAX - 2 || !ws ||
        ws_bytes < (size_t)(a->T + 2) * sizeof(int32_t))
        return qpErrorInvalidValue;
    int32_t *tiles = (int32_t *)ws;
    k_tc_tiles<<<1, TC_TILE_THREADS, 0, s>>>(tiles, a->seg_lo, a->seg_hi, a->pre_lo, a->pre_hi, a->T);
    qpError_t e = qpGetLastError();
    if (e != qpSuccess) return e;
    int64_t HDP = qk_tc_hd_padded(a->HD);
    return bf16 ? tc_launch<__nv_bfloat16>(s, a, tiles, HDP) : tc_launch<__half>(s, a, tiles, HDP);
}

/* The proof before first use (as gemm_lt.cu proves its algorithms on the device), on the batches
 * of attention_tc.h's qk_tc_proof_layout (H = 4, HKV = 2, head dim HD), with q, k, v exact in
 * bf16 and f16 (qk_tc_proof_values), so only p is rounded. Against the fp32 kernel on the same
 * values: within 2.01 u + 1e-4, no NaN; the 45-token sequence alone == in the batch, and the
 * continuation == the same tokens after the prompt repeated as one 70-token sequence (its rows 20
 * further in their tiles), bit for bit. */
#define PR_T QK_TC_PROOF_T
const char *qk_attention_tc_prove(qpStream_t s, int bf16, int64_t HD, char *why, size_t why_len) {
    const int64_t H = 4, HKV = 2, QD = H * HD, KD = HKV * HD;
    const char *fail = NULL;
    size_t nq = (size_t)(PR_T * QD), nk = (size_t)(PR_T * KD);
    float *hq = (float *)malloc(nq * 4), *hk = (float *)malloc(nk * 4), *hv = (float *)malloc(nk * 4);
    float *ref = (float *)malloc(nq * 4), *got = (float *)malloc(nq * 4), *alone = (float *)malloc(nq * 4), *rep = (float *)malloc(nq * 4);
    int32_t lay[3][5][PR_T]; /* attention_tc.h: 0 the batch, 1 the 45 alone, 2 prompt + continuation */
    void *d = NULL;
    size_t off_q = 0, off_k = off_q + nq * 4, off_v = off_k + nk * 4, off_o = off_v + nk * 4, off_l = off_o + nq * 4,
           off_ws = off_l + sizeof lay, total = off_ws + qk_tc_workspace_bytes(PR_T);
    if (!hq || !hk || !hv || !ref || !got || !alone || !rep) {
        fail = "out of host memory";
        goto done;
    }
    {
        float *all = (float *)malloc((nq + 2 * nk) * 4);
        if (!all) {
            fail = "out of host memory";
            goto done;
        }
        qk_tc_proof_values(all, nq + 2 * nk);
        memcpy(hq, all, nq * 4), memcpy(hk, all + nq, nk * 4), memcpy(hv, all + nq + nk, nk * 4);
        free(all);
        qk_tc_proof_layout(lay);
    }
    if (cudaMalloc(&d, total) != cudaSuccess) {
        (void)cudaGetLastError();
        d = NULL;
        fail = "cannot allocate its scratch";
        goto done;
    }
    {
        char *base = (char *)d;
        int32_t *dl = (int32_t *)(base + off_l);
        qk_att_args a;
        memset(&a, 0, sizeof a);
        a.out = (float *)(base + off_o), a.q = (const float *)(base + off_q), a.k = (const float *)(base + off_k), a.v = (const float *)(base + off_v);
        a.ldo = a.ldq = QD, a.ldk = a.ldv = KD, a.H = H, a.HKV = HKV, a.HD = HD, a.scale = 1.0f / sqrtf((float)HD), a.causal = 1;
        qpError_t e = cudaMemcpyAsync(base + off_q, hq, nq * 4, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(base + off_k, hk, nk * 4, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(base + off_v, hv, nk * 4, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(dl, lay, sizeof lay, cudaMemcpyHostToDevice, s);
        /* run b: 0 the fp32 kernel on batch 0, 1 tensor cores on batch 0, 2 on the 45 alone (its
         * q, k, v at row 70), 3 on prompt + continuation (rows 0..69, as in batch 0) */
        float *outs[4] = {ref, got, alone, rep};
        for (int b = 0; b < 4 && e == cudaSuccess; b++) {
            int l = b < 2 ? 0 : b == 2 ? 1 : 2;
            int64_t row0 = b == 2 ? 70 : 0;
            a.T = b < 2 ? PR_T : b == 2 ? 45 : 70;
            a.q = (const float *)(base + off_q) + row0 * QD, a.k = (const float *)(base + off_k) + row0 * KD;
            a.v = (const float *)(base + off_v) + row0 * KD;
            a.pos = dl + (l * 5 + 0) * PR_T, a.seg_lo = dl + (l * 5 + 1) * PR_T, a.seg_hi = dl + (l * 5 + 2) * PR_T;
            a.pre_lo = dl + (l * 5 + 3) * PR_T, a.pre_hi = dl + (l * 5 + 4) * PR_T;
            e = b == 0 ? qk_attention(s, &a) : qk_attention_tc(s, &a, bf16, base + off_ws, qk_tc_workspace_bytes(PR_T));
            if (e == cudaSuccess) e = cudaMemcpyAsync(outs[b], a.out, (size_t)(a.T * QD) * 4, cudaMemcpyDeviceToHost, s);
            if (e == cudaSuccess) e = cudaStreamSynchronize(s);
        }
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            snprintf(why, why_len, "a run failed: %s", cudaGetErrorString(e));
            fail = why;
            goto done;
        }
    }
    {
        double u = bf16 ? 0x1p-8 : 0x1p-11, tol = 2.01 * u + 1e-4, worst = 0;
        for (size_t i = 0; i < nq; i++) {
            double dd = fabs((double)got[i] - (double)ref[i]);
            if (!(dd <= worst)) worst = dd;
        }
        if (!(worst <= tol)) {
            snprintf(why, why_len, "max |error| %.3g against the fp32 kernel, past %.3g", worst, tol);
            fail = why;
        } else if (memcmp(alone, got + 70 * QD, (size_t)(45 * QD) * 4)) {
            fail = "a sequence alone gave other bits than in its batch";
        } else if (memcmp(rep + 20 * QD, got + 20 * QD, (size_t)(50 * QD) * 4)) {
            fail = "a shared prompt gave other bits than the repeated prompt";
        }
    }
done:
    if (d) (void)cudaFree(d);
    free(hq), free(hk), free(hv), free(ref), free(got), free(alone), free(rep);
    return fail;
}

#endif
