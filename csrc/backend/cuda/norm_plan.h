// The CUDA norm backwards' host-side half, free of CUDA headers: the block
// shape of the channel-sums kernel and a host simulation of both kernels'
// thread splits over math/norm.h's index maps (norm_backward.cuh launches
// them). The CPU tests run it through _C._cuda._norm_backward_sim in every
// build. Partials are merged serially here, in a tree on the device: the sums
// are in double, so the order only changes their last bits.
#pragma once
#include <vector>

#include "backend/cuda/reduce_plan.h"
#include "math/norm.h"

namespace fastgrad::cuda {

// Channels per block of the channel-sums kernel: 32 adjacent channels (loads
// coalesced across channels) when S == 1, else one channel per block.
constexpr int norm_channels_per_block(int64_t S) { return S == 1 ? kColsX : 1; }

template <class F>
math::NormGradSums simulate_norm_threads(int threads, const F& partial) {
  const math::NormGradSumOp op;
  math::NormGradSums a = op.init();
  for (int t = 0; t < threads; ++t) a = op.merge(a, partial(t));
  return a;
}

// Per channel: (sum g, sum g xhat) split as norm_channel_sums_kernel splits
// it, then dw, db and (with aff) batch norm's dx coefficients.
template <class T>
void simulate_norm_channels(const T* g, const T* x, const T* mean, const T* rstd,
                            const math::NormChannelIndex& ix, T* dw, T* db, const T* w,
                            bool use_batch, math::NormGradAffine<T>* aff) {
  const int threads = kReduceThreads / norm_channels_per_block(ix.S);
  for (int64_t c = 0; c < ix.C; ++c) {
    const math::NormGradSums a = simulate_norm_threads(
        threads, [&](int t) { return ix.partial(g, x, mean, rstd, c, t, threads); });
    math::norm_param_grads(a, c, dw, db);
    if (aff) aff[c] = math::bn_grad_affine(a, w, mean, rstd, c, ix.N * ix.S, use_batch);
  }
}

// layer/group norm: norm_rows_dx_kernel's block per row, then the channel sums.
template <class T>
void simulate_norm_rows_backward(const T* g, const T* x, const T* w, const T* mean,
                                 const T* rstd, T* dx, T* dw, T* db, int64_t M,
                                 const math::NormRowIndex& ix) {
  for (int64_t r = 0; r < M; ++r) {
    const double mu = static_cast<double>(mean[r]), rs = static_cast<double>(rstd[r]);
    const math::NormGradSums a = simulate_norm_threads(kReduceThreads, [&](int t) {
      return ix.partial(g, x, w, mu, rs, r, t, kReduceThreads);
    });
    const auto aff = math::norm_grad_affine<T>(a, mu, rs, ix.len(), true);
    for (int64_t j = 0; j < ix.len(); ++j) dx[r * ix.len() + j] = ix.dx(aff, g, x, w, r, j);
  }
  simulate_norm_channels<T>(g, x, mean, rstd, math::rows_channels(M, ix), dw, db, nullptr, true,
                            nullptr);
}

// batch_norm: the channel sums with the dx coefficients, then bn_dx_kernel.
template <class T>
void simulate_batch_norm_backward(const T* g, const T* x, const T* w, const T* mean,
                                  const T* invstd, bool use_batch, T* dx, T* dw, T* db,
                                  int64_t N, int64_t C, int64_t S) {
  std::vector<math::NormGradAffine<T>> aff(static_cast<size_t>(C));
  simulate_norm_channels<T>(g, x, mean, invstd, math::NormChannelIndex{N, C, S, 0, 1}, dw, db,
                            w, use_batch, aff.data());
  for (int64_t i = 0; i < N * C * S; ++i) dx[i] = math::bn_dx(aff.data(), g, x, w, i, C, S);
}

}  // namespace fastgrad::cuda
