// Per-element losses of ops/loss.cpp, shared by the CPU's fused map-reduce
// and the CUDA path (launch + the reduction kernels). T is float or double;
// branch-free where the CPU loop vectorises.
#pragma once
#include <cmath>
#include <cstdint>

#include "math/host_device.h"

namespace fastgrad::math {

template <class T> FG_HOST_DEVICE T min_of(T a, T b) { return b < a ? b : a; }
template <class T> FG_HOST_DEVICE T max_of(T a, T b) { return a < b ? b : a; }

struct MseLossFn {
  template <class T> FG_HOST_DEVICE T operator()(T x, T t) const { return (x - t) * (x - t); }
};

struct L1LossFn {
  template <class T> FG_HOST_DEVICE T operator()(T x, T t) const { return std::abs(x - t); }
};

// |d| < beta: d^2 / (2 beta), else |d| - beta / 2. Branch-free: with
// q = min(|d|, beta), q^2 / (2 beta) + (|d| - q) is both pieces (beta = 0: |d|).
struct SmoothL1LossFn {
  double beta;
  template <class T> FG_HOST_DEVICE T operator()(T x, T t) const {
    T d = std::abs(x - t), b = static_cast<T>(beta);
    T q = min_of(d, b);
    T inv2b = b > T(0) ? T(0.5) / b : T(0);
    return q * q * inv2b + (d - q);
  }
};

// |d| < delta: d^2 / 2, else delta (|d| - delta / 2); with q = min(|d|, delta),
// q^2 / 2 + delta (|d| - q).
struct HuberLossFn {
  double delta;
  template <class T> FG_HOST_DEVICE T operator()(T x, T t) const {
    T d = std::abs(x - t), dl = static_cast<T>(delta);
    T q = min_of(d, dl);
    return T(0.5) * q * q + dl * (d - q);
  }
};

// target (log(target) - input) with 0 log 0 = 0, or exp(target) (target -
// input) for log-space targets.
struct KlDivFn {
  bool log_target;
  template <class T> FG_HOST_DEVICE T operator()(T x, T t) const {
    if (log_target) return std::exp(t) * (t - x);
    return (t == T(0) ? T(0) : t * std::log(t)) - t * x;
  }
};

// -w (t max(log x, -100) + (1 - t) max(log(1 - x), -100)); inputs outside
// [0, 1] are the caller's error (checked beforehand), 0 here.
struct BceLossFn {
  template <class T> FG_HOST_DEVICE T operator()(T x, T t, T w) const {
    if (!(x >= T(0) && x <= T(1))) return T(0);
    T lx = max_of(std::log(x), T(-100)), l1x = max_of(std::log1p(-x), T(-100));
    return ((t - T(1)) * l1x - t * lx) * w;
  }
};

// With lw = 1 + (pos_weight - 1) t: w ((1 - t) x + lw softplus(-x)),
// softplus(-x) = log1p(exp(-|x|)) + max(-x, 0) without overflow.
struct BceWithLogitsLossFn {
  bool has_pos_weight;
  template <class T> FG_HOST_DEVICE T operator()(T x, T t, T w, T pw) const {
    T sp = std::log1p(std::exp(-std::abs(x))) + max_of(-x, T(0));
    T lw = has_pos_weight ? T(1) + (pw - T(1)) * t : T(1);
    return ((T(1) - t) * x + lw * sp) * w;
  }
};

}  // namespace fastgrad::math

namespace fastgrad::math {

// nll_loss over an (N, C, S) input with N*S class-index targets: target i =
// (n, j) contributes -w[t_i] x[n, t_i, j], 0 when it is ignore_index.
template <class T>
struct NllTermFn {
  const T* x;
  const int64_t* t;
  const T* w;  // null: weight 1
  int64_t c, s, ignore_index;
  FG_HOST_DEVICE T operator()(int64_t i) const {
    const int64_t k = t[i];
    if (k == ignore_index) return T(0);
    const int64_t n = i / s, j = i - n * s;
    return -(w ? w[k] : T(1)) * x[(n * c + k) * s + j];
  }
};

// The gradient factor of target i shared by nll_loss's and cross_entropy's
// backwards: w[t_i] g_i, with g_i = g[i] ('none') or g[0] * scale (scale: 1,
// or 1 / the total weight for 'mean'); 0 where t_i is ignored.
template <class T>
struct TargetCoef {
  const int64_t* t;
  const T* w;
  const T* g;
  int64_t ignore_index;
  T scale;
  bool per_element;
  FG_HOST_DEVICE T operator()(int64_t i) const {
    const int64_t k = t[i];
    if (k == ignore_index) return T(0);
    return (w ? w[k] : T(1)) * (per_element ? g[i] : g[0] * scale);
  }
};

// nll_loss's gradient, scattered into a zero-filled (N, C, S) `out`:
// -coef(i) at (n, t_i, j).
template <class T>
struct NllGradFn {
  TargetCoef<T> coef;
  T* out;
  int64_t c, s;
  FG_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t k = coef.t[i];
    if (k == coef.ignore_index) return;
    const int64_t n = i / s, j = i - n * s;
    out[(n * c + k) * s + j] = -coef(i);
  }
};

// The per-line math of Note [Fused cross entropy] (ops/loss_nll.cpp): a line
// is the C logits x[(n * C + k) * S + j] of target i = n * S + j.

// The running max of a line: NaN never wins (std::max(m, v), as the CPU's
// max_line), so a NaN logit shows up through the sum of exponentials instead.
template <class T> FG_HOST_DEVICE T ce_max(T m, T v) { return m < v ? v : m; }

// logsumexp from the line's max and sum_k e^(x_k - max) (in double); an
// infinite max is the result itself (log_softmax's finite-safe form).
template <class T> FG_HOST_DEVICE T ce_lse(T mx, double sum_exp) {
  return mx - mx == T(0) ? mx + static_cast<T>(std::log(sum_exp)) : mx;
}

// The line's loss w[k] (lse - x_k) for target k (x_k = xl[k * xs]); 0 if ignored.
template <class T>
FG_HOST_DEVICE T ce_loss(T lse, const T* xl, int64_t xs, int64_t k, const T* w,
                         int64_t ignore_index) {
  return k == ignore_index ? T(0) : (w ? w[k] : T(1)) * (lse - xl[k * xs]);
}

// d(loss)/d(x) at element e of the (N, C, S) input: coef (softmax - onehot),
// softmax = e^(x - lse); the CPU line loop's operations in its order.
template <class T>
struct CeGradFn {
  TargetCoef<T> coef;
  const T* x;
  const T* lse;
  T* out;
  int64_t c, s;
  FG_HOST_DEVICE void operator()(int64_t e) const {
    const int64_t nc = e / s, j = e - nc * s, n = nc / c, cls = nc - n * c, i = n * s + j;
    const T k_coef = coef(i);
    T v = k_coef * std::exp(x[e] - lse[i]);
    if (cls == coef.t[i] && coef.t[i] != coef.ignore_index) v -= k_coef;
    out[e] = v;
  }
};

}  // namespace fastgrad::math
