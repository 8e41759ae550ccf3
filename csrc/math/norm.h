// The normalization backward math shared by the CPU kernels (ops/norm.cpp,
// ops/batch_norm.cpp) and the CUDA ones (backend/cuda/norm_backward.cuh).
// Every norm normalizes groups of n elements with a mean mu and rstd rs (a
// row of layer/group norm, a channel of batch norm); with gw = g * w
// (w: the element's channel weight, 1 without one) and xhat = (x - mu) rs,
//   dx = rs (gw - sum(gw) / n - xhat sum(gw xhat) / n)      (batch statistics)
//   dx = rs gw                                               (constant statistics)
// and dw[c] = sum g xhat, db[c] = sum g over every group touching channel c.
// The backends only differ in how they form the two double sums.
#pragma once
#include <cstdint>

#include "math/host_device.h"

namespace fastgrad::math {

// sum(gw) and sum(gw xhat) of one group (or of part of it: merge adds).
struct NormGradSums {
  double gw, gw_xhat;
};

// The combiner form (init / merge) for the CUDA block reductions.
struct NormGradSumOp {
  using Acc = NormGradSums;
  FG_HOST_DEVICE Acc init() const { return {0.0, 0.0}; }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const { return {a.gw + b.gw, a.gw_xhat + b.gw_xhat}; }
  FG_HOST_DEVICE Acc step(Acc a, double gw, double xhat) const {
    return {a.gw + gw, a.gw_xhat + gw * xhat};
  }
};

// dx of one group as an affine map of (gw, x), its coefficients rounded to T
// once per group: dx = gw * rs - shift - (x - mu) * k.
template <class T>
struct NormGradAffine {
  T rs, shift, k, mu;
  FG_HOST_DEVICE T operator()(T gw, T x) const { return gw * rs - shift - (x - mu) * k; }
};

// The group's coefficients from its sums over n elements; use_batch false
// (batch_norm's eval mode: the statistics are constants) drops the mean terms.
template <class T>
FG_HOST_DEVICE NormGradAffine<T> norm_grad_affine(NormGradSums s, double mu, double rs,
                                                  int64_t n, bool use_batch) {
  const double inv_n = use_batch ? 1.0 / static_cast<double>(n) : 0.0;
  return {static_cast<T>(rs), static_cast<T>(rs * s.gw * inv_n),
          static_cast<T>(rs * rs * s.gw_xhat * inv_n), static_cast<T>(mu)};
}

// The per-channel parameter gradients of a channel's sums sum(g) and
// sum(g xhat) (its gw sums with w = 1).
template <class T>
FG_HOST_DEVICE void norm_param_grads(NormGradSums s, int64_t c, T* dw, T* db) {
  if (dw) dw[c] = static_cast<T>(s.gw_xhat);
  if (db) db[c] = static_cast<T>(s.gw);
}

// The CUDA kernels' index maps (backend/cuda/norm_backward.cuh), here so the
// host simulation (_C._cuda._norm_backward_sim) runs them in every build.

// Layer/group norm rows (ops/norm.cpp's RowGeom): row r holds channels
// (r % G) * Cg + [0, Cg), each S contiguous elements.
struct NormRowIndex {
  int64_t G, Cg, S;
  FG_HOST_DEVICE int64_t len() const { return Cg * S; }
  FG_HOST_DEVICE int64_t channel(int64_t r, int64_t j) const { return (r % G) * Cg + j / S; }
  // Thread t of `threads` over row r: its share of the row's sums.
  template <class T>
  FG_HOST_DEVICE NormGradSums partial(const T* g, const T* x, const T* w, double mu,
                                      double rs, int64_t r, int t, int threads) const {
    const NormGradSumOp op;
    NormGradSums a = op.init();
    const int64_t L = len();
    for (int64_t j = t; j < L; j += threads) {
      const double wc = w ? static_cast<double>(w[channel(r, j)]) : 1.0;
      a = op.step(a, static_cast<double>(g[r * L + j]) * wc,
                  (static_cast<double>(x[r * L + j]) - mu) * rs);
    }
    return a;
  }
  template <class T>
  FG_HOST_DEVICE T dx(const NormGradAffine<T>& aff, const T* g, const T* x, const T* w,
                      int64_t r, int64_t j) const {
    const int64_t e = r * len() + j;
    return aff(g[e] * (w ? w[channel(r, j)] : T(1)), x[e]);
  }
};

// Channels of an (N, C, S) layout, element i in [0, N S) of channel c at
// (n C + c) S + s; its statistics at stat[n sn + c / cdiv]: batch norm's own
// channel (sn = 0, cdiv = 1), or the (sample, group) row of layer/group norm.
struct NormChannelIndex {
  int64_t N, C, S, sn, cdiv;
  // Thread ty of `threads` over channel c: its share of (sum g, sum g xhat).
  template <class T>
  FG_HOST_DEVICE NormGradSums partial(const T* g, const T* x, const T* mean, const T* rstd,
                                      int64_t c, int ty, int threads) const {
    const NormGradSumOp op;
    NormGradSums a = op.init();
    for (int64_t i = ty; i < N * S; i += threads) {
      const int64_t n = i / S, e = (n * C + c) * S + (i - n * S), st = n * sn + c / cdiv;
      const double mu = static_cast<double>(mean[st]), rs = static_cast<double>(rstd[st]);
      a = op.step(a, static_cast<double>(g[e]), (static_cast<double>(x[e]) - mu) * rs);
    }
    return a;
  }
};

// The channels of layer/group norm's M rows: (M / G, G Cg, S), row n G + c / Cg.
FG_HOST_DEVICE NormChannelIndex rows_channels(int64_t M, const NormRowIndex& r) {
  return {M / r.G, r.G * r.Cg, r.S, r.G, r.Cg};
}

// batch_norm's dx coefficients of channel c from its sums (sum g, sum g xhat).
template <class T>
FG_HOST_DEVICE NormGradAffine<T> bn_grad_affine(NormGradSums s, const T* w, const T* mean,
                                                const T* invstd, int64_t c, int64_t count,
                                                bool use_batch) {
  const double wc = w ? static_cast<double>(w[c]) : 1.0;
  return norm_grad_affine<T>({wc * s.gw, wc * s.gw_xhat}, static_cast<double>(mean[c]),
                             static_cast<double>(invstd[c]), count, use_batch);
}

// batch_norm's dx at element i of the (N, C, S) input.
template <class T>
FG_HOST_DEVICE T bn_dx(const NormGradAffine<T>* aff, const T* g, const T* x, const T* w,
                       int64_t i, int64_t C, int64_t S) {
  const int64_t c = (i / S) % C;
  return aff[c](g[i] * (w ? w[c] : T(1)), x[i]);
}

}  // namespace fastgrad::math
