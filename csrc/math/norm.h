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

}  // namespace fastgrad::math
