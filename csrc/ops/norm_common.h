// Shared pieces of the normalization ops (norm.cpp, batch_norm.cpp).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace fastgrad {

// Sum of f(j), j in [0, n), in double with 8 independent accumulators: the
// compiler may vectorize it without reassociating a single running sum
// (we build without -ffast-math), which makes row statistics ~4x faster.
template <class F>
inline double lane_sum(int64_t n, const F& f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += f(j + l);
  for (; j < n; ++j) acc[0] += f(j);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Checks a floating, CPU input and an optional per-feature tensor `t`
// (weight, bias, running stat) of `shape` and x's dtype; `what` names it.
void check_norm_param(const char* op, const char* what, const Tensor& x, const Tensor& t,
                      const Shape& shape);

// A 1-d per-channel `t` (named `what`) whose size differs from x's dim 1:
// "expected input with C channels (the size of weight), got input of shape ...".
void check_channels(const char* op, const Tensor& x, const Tensor& t, const char* what);

// Note [Normalization double backward]
// The backward kernels are fast but not differentiable. Under create_graph the
// rules instead recompute the statistics from x with fastgrad ops, so the
// returned gradient carries its own history. `grouped` is a shape x is viewed
// as while its statistics are taken over `dims`; `w` is the weight broadcast
// against x (undefined: 1). Returns {dx, xhat} (both shaped like x).
std::pair<Tensor, Tensor> norm_backward_composite(const Tensor& x, const Tensor& g,
                                                  const Tensor& w, const Shape& grouped,
                                                  const std::vector<int64_t>& dims,
                                                  double eps);

// Whether this build has the fused backward kernels for device d (the CPU,
// and CUDA when the ops are compiled by nvcc); elsewhere the composite runs.
bool fused_norm_backward_on(const Device& d);

// `t` (C,) as (1, C, 1, ..., 1) for an `ndim`-d (N, C, *) input.
Tensor channel_view(const Tensor& t, int64_t ndim);

}  // namespace fastgrad
