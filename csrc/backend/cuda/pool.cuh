// Max and average pooling on CUDA, one thread per output element, over the
// window tables of ops/pool.cpp (per axis: first input position, count,
// divisor), copied to the device. Max pooling's backward is the indexing
// scatter-add (ops/index_launch.h); average pooling's spreads each output
// over its window with atomic adds. Included only by nvcc-compiled files.
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/index.cuh"

namespace fastgrad::cuda {

// The windows of one pooling call; tables are device pointers (int64):
// h[0..OH) first rows, h[OH..2OH) counts, h[2OH..3OH) divisors; w likewise.
struct PoolWindows {
  const int64_t *h, *w;
  int64_t H, W, OH, OW, hstep, wstep, divisor;  // divisor: 0 unless overridden
  __device__ int64_t div(int64_t oh, int64_t ow) const {
    return divisor ? divisor : h[2 * OH + oh] * w[2 * OW + ow];
  }
};

constexpr int kPoolThreads = 256;

inline unsigned pool_blocks(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kPoolThreads - 1) / kPoolThreads, 1 << 20));
}

#define FG_POOL_LOOP(i, n)                                                     \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// y, idx (planes, OH, OW) from x (planes, H, W). NaN wins, as on the CPU.
template <class T>
__global__ void max_pool_kernel(PoolWindows p, const T* x, T* y, int64_t* idx, T lowest,
                                int64_t n) {
  FG_POOL_LOOP(i, n) {
    const int64_t ow = i % p.OW, oh = (i / p.OW) % p.OH, pl = i / (p.OW * p.OH);
    const T* xp = x + pl * p.H * p.W;
    const int64_t h0 = p.h[oh], w0 = p.w[ow];
    int64_t best_i = h0 * p.W + w0;
    T best = lowest;
    for (int64_t a = 0, ih = h0; a < p.h[p.OH + oh]; ++a, ih += p.hstep)
      for (int64_t b = 0, iw = w0; b < p.w[p.OW + ow]; ++b, iw += p.wstep) {
        const T v = xp[ih * p.W + iw];
        if (v > best || v != v) best = v, best_i = ih * p.W + iw;
      }
    y[i] = best;
    idx[i] = best_i;
  }
}

template <class T>
__global__ void avg_pool_kernel(PoolWindows p, const T* x, T* y, int64_t n) {
  FG_POOL_LOOP(i, n) {
    const int64_t ow = i % p.OW, oh = (i / p.OW) % p.OH, pl = i / (p.OW * p.OH);
    const T* xp = x + pl * p.H * p.W;
    T s = T(0);
    for (int64_t ih = p.h[oh]; ih < p.h[oh] + p.h[p.OH + oh]; ++ih)
      for (int64_t iw = p.w[ow]; iw < p.w[ow] + p.w[p.OW + ow]; ++iw) s += xp[ih * p.W + iw];
    y[i] = s / static_cast<T>(p.div(oh, ow));
  }
}

// gx (planes, H, W), zeroed, += each gy spread over its window.
template <class T>
__global__ void avg_pool_backward_kernel(PoolWindows p, const T* gy, T* gx, int64_t n) {
  FG_POOL_LOOP(i, n) {
    const int64_t ow = i % p.OW, oh = (i / p.OW) % p.OH, pl = i / (p.OW * p.OH);
    T* g = gx + pl * p.H * p.W;
    const T v = gy[i] / static_cast<T>(p.div(oh, ow));
    for (int64_t ih = p.h[oh]; ih < p.h[oh] + p.h[p.OH + oh]; ++ih)
      for (int64_t iw = p.w[ow]; iw < p.w[ow] + p.w[p.OW + ow]; ++iw)
        atomic_add(g + ih * p.W + iw, v);
  }
}

#undef FG_POOL_LOOP

}  // namespace fastgrad::cuda
