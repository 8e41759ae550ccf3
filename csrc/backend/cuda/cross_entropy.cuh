// The fused cross-entropy forward on CUDA (Note [Fused cross entropy]): a
// warp per (n, s) line of C logits -- the max, the sum of e^(x - max) in
// double, then lse and the line's loss by math/loss.h, as the CPU line loop.
// The backward is math::CeGradFn per element through index_loop.cuh.
// Included only by translation units nvcc compiles.
#pragma once
#include "backend/cuda/reduce.cuh"
#include "math/loss.h"

namespace fastgrad::cuda {

template <class T>
struct CeMaxOp {  // math::ce_max as a warp combiner
  using Acc = T;
  __device__ Acc merge(Acc a, Acc b) const { return math::ce_max(a, b); }
};

template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    cross_entropy_lines_kernel(const T* x, const int64_t* t, const T* w, T* lse, T* per,
                               int64_t m, int64_t c, int64_t s, int64_t ignore_index) {
  for_each_warp_line(m, [&](int64_t r, int lane) {
    const int64_t n = r / s, j = r - n * s;
    const T* xl = x + n * c * s + j;
    T mx = static_cast<T>(-INFINITY);
    for (int64_t k = lane; k < c; k += kWarp) mx = math::ce_max(mx, xl[k * s]);
    mx = __shfl_sync(0xffffffffu, warp_reduce(CeMaxOp<T>{}, mx), 0);
    double sum = 0;
    for (int64_t k = lane; k < c; k += kWarp) sum += static_cast<double>(std::exp(xl[k * s] - mx));
    sum = warp_reduce(AddOp{}, sum);
    if (lane == 0) {
      const T l = math::ce_lse(mx, sum);
      lse[r] = l;
      per[r] = math::ce_loss(l, xl, s, t[r], w, ignore_index);
    }
  });
}

// lse[i] and the per-line loss per[i] for the m = N * S lines of a contiguous
// (N, C, S) x; targets are in [0, C) or ignore_index (checked on the host).
template <class T>
void cross_entropy_lines(const char* name, const T* x, const int64_t* t, const T* w, T* lse,
                         T* per, int64_t m, int64_t c, int64_t s, int64_t ignore_index,
                         int device) {
  if (m == 0) return;
  DeviceGuard guard(device);
  cross_entropy_lines_kernel<<<line_grid(m), kReduceThreads, 0, current_stream(device)>>>(
      x, t, w, lse, per, m, c, s, ignore_index);
  check_launch(name);
}

}  // namespace fastgrad::cuda
