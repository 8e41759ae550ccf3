// Normalization backwards on CUDA, over math/norm.h's formulas (the CPU
// kernels' own) and index maps (NormRowIndex, NormChannelIndex: the host
// simulation _C._cuda._norm_backward_sim runs the same thread splits).
// Geometry as the forwards (norm.cuh): layer/group norm rows of Cg channels
// x S positions, batch norm an (N, C, S) input.
// - dx of layer/group norm: a block per row reduces sum(g w) and sum(g w xhat)
//   (math::NormGradSumOp through group_reduce), then writes the row.
// - Per-channel sums sum(g) and sum(g xhat) (dw, db; and batch norm's dx
//   coefficients): one kernel for all three ops, the statistics of element
//   (n, c) being stat[n * sn + c / cdiv]. With S == 1 (layer norm, 2-d batch
//   norm) 32 adjacent channels share a block, so loads are coalesced across
//   channels; otherwise a block per channel reads its S-runs contiguously.
// - batch norm's dx: an elementwise pass over per-channel affine coefficients.
// Sums are in double as on the CPU; only their order differs.
#pragma once
#include "backend/cuda/norm_plan.h"
#include "backend/cuda/reduce.cuh"
#include "math/norm.h"

namespace fastgrad::cuda {

template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    norm_rows_dx_kernel(const T* g, const T* x, const T* w, const T* mean, const T* rstd,
                        T* dx, int64_t M, math::NormRowIndex ix) {
  __shared__ AccSlots<math::NormGradSums, kReduceThreads / kWarp> smem;
  __shared__ math::NormGradAffine<T> coef;
  const int64_t L = ix.len();
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const double mu = static_cast<double>(mean[r]), rs = static_cast<double>(rstd[r]);
    math::NormGradSums a = ix.partial(g, x, w, mu, rs, r, threadIdx.x, kReduceThreads);
    a = group_reduce<kReduceThreads>(math::NormGradSumOp{}, a, smem.get());
    if (threadIdx.x == 0) coef = math::norm_grad_affine<T>(a, mu, rs, L, true);
    __syncthreads();
    const math::NormGradAffine<T> aff = coef;
    for (int64_t j = threadIdx.x; j < L; j += kReduceThreads)
      dx[r * L + j] = ix.dx(aff, g, x, w, r, j);
    __syncthreads();  // coef is rewritten by the next row
  }
}

// Per channel c of an (N, C, S) g and x: s = (sum g, sum g xhat); then dw and
// db from s, and with `aff` batch norm's dx coefficients (sums scaled by w[c]).
// TX channels per block, kReduceThreads / TX threads over each channel's N*S.
template <int TX, class T>
__global__ void __launch_bounds__(kReduceThreads)
    norm_channel_sums_kernel(const T* g, const T* x, const T* mean, const T* rstd,
                             math::NormChannelIndex ix, bool sum_elems, T* dw, T* db,
                             const T* w, bool use_batch, math::NormGradAffine<T>* aff) {
  constexpr int TY = kReduceThreads / TX;
  __shared__ AccSlots<math::NormGradSums, (TX == 1 ? kReduceThreads / kWarp : kReduceThreads)>
      smem;
  const math::NormGradSumOp op;
  const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
  const int64_t C = ix.C;
  for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * TX; c0 < C;
       c0 += static_cast<int64_t>(gridDim.x) * TX) {
    const int64_t c = c0 + tx;
    math::NormGradSums a = op.init();
    if (c < C && sum_elems) a = ix.partial(g, x, mean, rstd, c, ty, TY);
    if constexpr (TX == 1) {
      a = group_reduce<kReduceThreads>(op, a, smem.get());
    } else {  // merged in y order through shared memory, as reduce_cols_kernel
      math::NormGradSums* buf = smem.get();
      buf[ty * TX + tx] = a;
      __syncthreads();
      if (ty == 0)
        for (int k = 1; k < TY; ++k) a = op.merge(a, buf[k * TX + tx]);
      __syncthreads();
    }
    if (ty != 0 || c >= C) continue;
    math::norm_param_grads(a, c, dw, db);
    if (aff) aff[c] = math::bn_grad_affine(a, w, mean, rstd, c, ix.N * ix.S, use_batch);
  }
}

template <class T>
void norm_channel_sums(const T* g, const T* x, const T* mean, const T* rstd,
                       const math::NormChannelIndex& ix, bool sum_elems, T* dw, T* db,
                       const T* w, bool use_batch, math::NormGradAffine<T>* aff,
                       cudaStream_t st) {
  if (norm_channels_per_block(ix.S) == kColsX)
    norm_channel_sums_kernel<kColsX><<<capped_grid((ix.C + kColsX - 1) / kColsX),
                                       kReduceThreads, 0, st>>>(g, x, mean, rstd, ix, sum_elems,
                                                                dw, db, w, use_batch, aff);
  else
    norm_channel_sums_kernel<1><<<capped_grid(ix.C), kReduceThreads, 0, st>>>(
        g, x, mean, rstd, ix, sum_elems, dw, db, w, use_batch, aff);
}

// dx, dw, db (null: not wanted) of layer/group norm for a non-empty input.
template <class T>
void norm_rows_backward(const char* name, const T* g, const T* x, const T* w, const T* mean,
                        const T* rstd, T* dx, T* dw, T* db, int64_t M, int64_t G, int64_t Cg,
                        int64_t S, int device) {
  if (M == 0) return;
  DeviceGuard guard(device);
  cudaStream_t st = current_stream(device);
  const math::NormRowIndex ix{G, Cg, S};
  if (dx) {
    norm_rows_dx_kernel<<<capped_grid(M), kReduceThreads, 0, st>>>(g, x, w, mean, rstd, dx, M,
                                                                    ix);
    check_launch(name);
  }
  if (dw || db) {
    norm_channel_sums<T>(g, x, mean, rstd, math::rows_channels(M, ix), true, dw, db, nullptr,
                         true, nullptr, st);
    check_launch(name);
  }
}

template <class T>
__global__ void bn_dx_kernel(const T* g, const T* x, const T* w,
                             const math::NormGradAffine<T>* aff, T* dx, int64_t total,
                             int64_t C, int64_t S) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dx[i] = math::bn_dx(aff, g, x, w, i, C, S);
}

// batch_norm's dx, dw, db (null: not wanted); use_batch as the forward's
// (false: running statistics, constants for dx).
template <class T>
void batch_norm_backward(const char* name, const T* g, const T* x, const T* w, const T* mean,
                         const T* invstd, bool use_batch, T* dx, T* dw, T* db, int64_t N,
                         int64_t C, int64_t S, int device) {
  if (C == 0) return;
  DeviceGuard guard(device);
  cudaStream_t st = current_stream(device);
  // Freed right after the launches: the allocator reuses it in stream order.
  Storage scratch = dx ? cuda_allocate(C * static_cast<int64_t>(sizeof(math::NormGradAffine<T>)),
                                       device)
                       : Storage();
  auto* aff = dx ? static_cast<math::NormGradAffine<T>*>(scratch->data()) : nullptr;
  const bool sum_elems = (dx && use_batch) || dw || db;
  norm_channel_sums<T>(g, x, mean, invstd, math::NormChannelIndex{N, C, S, 0, 1}, sum_elems, dw,
                       db, w, use_batch, aff, st);
  check_launch(name);
  const int64_t total = N * C * S;
  if (!dx || total == 0) return;
  bn_dx_kernel<<<capped_grid((total + 255) / 256), 256, 0, st>>>(g, x, w, aff, dx, total, C, S);
  check_launch(name);
}

}  // namespace fastgrad::cuda
