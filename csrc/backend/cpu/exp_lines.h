// max and exp over one strided line of a softmax-like kernel (softmax, log_softmax,
// fused cross entropy): float uses math/vec_exp.h, four at a time when the
// line is contiguous (Note [Vectorizable float activations]); double keeps
// libm. A value gives the same bits whether the line is contiguous or not.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "math/vec_exp.h"

namespace fastgrad::cpu {

// e^x for one element of type T.
template <class T>
inline T exp_elem(T x) {
  if constexpr (std::is_same_v<T, float>) return math::vec::exp_f32(x);
  else return std::exp(x);
}

// max_i x[i * xs] over the non-NaN values (-inf if none), as a serial
// std::max would give, from four lane maxima (element i in lane i % 4) so
// the compare chain is not serial; the lanes do not depend on the layout.
template <class T>
inline T max_line(const T* x, int64_t xs, int64_t n) {
  const T lo = -std::numeric_limits<T>::infinity();
  T m[4] = {lo, lo, lo, lo};
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (xs == 1) {
      math::vec::F4 m4 = math::vec::splat<math::vec::F4>(lo);
      for (; i + 4 <= n; i += 4) {
        const math::vec::F4 v = math::vec::load4(x + i);
        m4 = math::vec::select_lt(m4, v, v, m4);  // std::max(m, v) lane-wise
      }
      for (int k = 0; k < 4; ++k) m[k] = m4[k];
    }
  }
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) m[k] = std::max(m[k], x[(i + k) * xs]);
  for (; i < n; ++i) m[i & 3] = std::max(m[i & 3], x[i * xs]);
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

// y[i * ys] *= c
template <class T>
inline void scale_line(T* y, int64_t ys, T c, int64_t n) {
  if (ys == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] *= c;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i * ys] *= c;
  }
}

// y[i * ys] = c * e^(x[i * xs] - m) for i < n (c = 1 skips nothing: the
// multiply by 1 is exact).
template <class T>
inline void exp_shift_line(const T* x, int64_t xs, T m, T c, T* y, int64_t ys, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (xs == 1 && ys == 1)
      return math::vec::map4(x, y, n, [m, c](auto v) { return c * math::vec::exp_f32(v - m); });
  }
  for (int64_t i = 0; i < n; ++i) y[i * ys] = c * exp_elem(x[i * xs] - m);
}

// sum_i e^(x[i * xs] - m) in double. Four partial sums (element i goes to
// i % 4, then (s0 + s1) + (s2 + s3)) break the serial add chain; the order
// depends only on n, never on the layout or the thread split.
template <class T>
inline double exp_shift_sum(const T* x, int64_t xs, T m, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (xs == 1) {
      for (; i + 4 <= n; i += 4) {
        const math::vec::F4 e = math::vec::exp_f32(math::vec::load4(x + i) - m);
        s[0] += e[0], s[1] += e[1], s[2] += e[2], s[3] += e[3];
      }
    }
  }
  for (; i < n; ++i) s[i & 3] += exp_elem(x[i * xs] - m);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// sum_i y[i * ys] in double, in exp_shift_sum's order.
template <class T>
inline double sum4(const T* y, int64_t ys, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s[0] += y[i * ys], s[1] += y[(i + 1) * ys];
    s[2] += y[(i + 2) * ys], s[3] += y[(i + 3) * ys];
  }
  for (; i < n; ++i) s[i & 3] += y[i * ys];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace fastgrad::cpu
