// Normalization forwards on CUDA. layer_norm / group_norm: ops/norm.cpp's row geometry (M
// rows of Cg channels x S positions, channel of row r's element j: (r % G) *
// Cg + j / S), a block per row. The row's mean and variance come from the
// Welford combiner of math/reduce.h in one pass (the CPU takes two passes;
// both are exact to double rounding), then the normalized affine write.
// batch_norm: a block per channel of a contiguous (N, C, S) input.
#pragma once
#include "backend/cuda/reduce.cuh"

namespace fastgrad::cuda {

template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    norm_rows_kernel(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t M,
                     int64_t G, int64_t Cg, int64_t S, double eps) {
  __shared__ AccSlots<math::Moments, kReduceThreads / kWarp> smem;
  __shared__ double stats[2];
  const math::VarOp<T> op{0.0, false};
  const int64_t L = Cg * S;
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const T* xr = x + r * L;
    math::Moments a = math::thread_partial(op, xr, 1, 0, L, threadIdx.x, kReduceThreads);
    a = group_reduce<kReduceThreads>(op, a, smem.get());
    if (threadIdx.x == 0) {
      stats[0] = a.mean;
      stats[1] = 1.0 / std::sqrt(a.m2 / static_cast<double>(L) + eps);
      mean[r] = static_cast<T>(stats[0]);
      rstd[r] = static_cast<T>(stats[1]);
    }
    __syncthreads();
    const double mu = stats[0], rs = stats[1];
    const int64_t c0 = (r % G) * Cg;
    for (int64_t j = threadIdx.x; j < L; j += kReduceThreads) {
      const int64_t c = c0 + j / S;
      const double wc = w ? static_cast<double>(w[c]) : 1.0;
      const double bc = b ? static_cast<double>(b[c]) : 0.0;
      y[r * L + j] = static_cast<T>((static_cast<double>(xr[j]) - mu) * rs * wc + bc);
    }
    __syncthreads();  // stats is rewritten by the next row
  }
}

template <class T>
void norm_rows(const char* name, const T* x, const T* w, const T* b, T* y, T* mean, T* rstd,
               int64_t M, int64_t G, int64_t Cg, int64_t S, double eps, int device) {
  if (M == 0) return;
  DeviceGuard guard(device);
  norm_rows_kernel<<<capped_grid(M), kReduceThreads, 0, current_stream(device)>>>(
      x, w, b, y, mean, rstd, M, G, Cg, S, eps);
  check_launch(name);
}

// Per channel c: the batch mean and 1/sqrt(var + eps) (use_batch) or the
// running ones, and with rm_new the updated running statistics (momentum, the
// unbiased variance, as PyTorch) in double, as the CPU computes them.
template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    bn_stats_kernel(const T* x, int64_t N, int64_t C, int64_t S, bool use_batch, double eps,
                    const T* rm, const T* rv, T* mean, T* invstd, T* rm_new, T* rv_new,
                    double momentum) {
  __shared__ AccSlots<math::Moments, kReduceThreads / kWarp> smem;
  const math::VarOp<T> op{0.0, false};
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    math::Moments a = op.init();
    if (use_batch) {
      for (int64_t i = threadIdx.x; i < N * S; i += kReduceThreads) {
        const int64_t n = i / S;
        a = op.step(a, x[(n * C + c) * S + (i - n * S)], i);
      }
      a = group_reduce<kReduceThreads>(op, a, smem.get());
    }
    if (threadIdx.x != 0) continue;
    const double mu = use_batch ? (a.n > 0 ? a.mean : NAN) : static_cast<double>(rm[c]);
    const double var = use_batch ? a.m2 / a.n : static_cast<double>(rv[c]);
    mean[c] = static_cast<T>(mu);
    invstd[c] = static_cast<T>(1.0 / std::sqrt(var + eps));
    if (rm_new) {
      const double unbiased = a.m2 / (a.n - 1);
      rm_new[c] = static_cast<T>(momentum * static_cast<double>(mean[c]) +
                                 (1.0 - momentum) * static_cast<double>(rm[c]));
      rv_new[c] = static_cast<T>(momentum * unbiased +
                                 (1.0 - momentum) * static_cast<double>(rv[c]));
    }
  }
}

// y = x * scale[c] + shift[c], scale = invstd * w, shift = b - mean * scale.
template <class T>
__global__ void bn_apply_kernel(const T* x, T* y, int64_t total, int64_t C, int64_t S,
                                const T* mean, const T* invstd, const T* w, const T* b) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / S) % C;
    const double is = static_cast<double>(invstd[c]), wc = w ? static_cast<double>(w[c]) : 1.0;
    const T scale = static_cast<T>(is * wc);
    const T shift = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) -
                                   static_cast<double>(mean[c]) * is * wc);
    y[i] = x[i] * scale + shift;
  }
}

template <class T>
void batch_norm_forward(const char* name, const T* x, T* y, int64_t N, int64_t C, int64_t S,
                        const T* w, const T* b, const T* rm, const T* rv, bool use_batch,
                        double eps, T* mean, T* invstd, T* rm_new, T* rv_new, double momentum,
                        int device) {
  if (C == 0) return;
  DeviceGuard guard(device);
  cudaStream_t st = current_stream(device);
  bn_stats_kernel<<<capped_grid(C), kReduceThreads, 0, st>>>(
      x, N, C, S, use_batch, eps, rm, rv, mean, invstd, rm_new, rv_new, momentum);
  check_launch(name);
  const int64_t total = N * C * S;
  if (total == 0) return;
  bn_apply_kernel<<<capped_grid((total + 255) / 256), 256, 0, st>>>(x, y, total, C, S, mean,
                                                                     invstd, w, b);
  check_launch(name);
}

}  // namespace fastgrad::cuda
