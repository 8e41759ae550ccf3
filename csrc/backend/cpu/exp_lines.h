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

// e^x for one element of type T, or for four floats (an F4).
template <class T>
inline T exp_elem(T x) {
  if constexpr (std::is_same_v<T, double>) return std::exp(x);
  else return math::vec::exp_f32(x);
}

// max_i x[i * xs] over the non-NaN values (-inf if none), as a serial
// std::max would give up to the sign of a zero maximum. Float lines with unit
// stride keep four F4 maxima in registers (sixteen independent compares per
// step: the first pass over a line from memory is otherwise one serial
// compare chain); the rest uses four scalar lanes.
template <class T>
inline T max_line(const T* x, int64_t xs, int64_t n) {
  const T lo = -std::numeric_limits<T>::infinity();
  T m[4] = {lo, lo, lo, lo};
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    using namespace math::vec;
    if (xs == 1 && n >= 16) {
      auto vmax = [](F4 a, F4 b) { return select_lt(a, b, b, a); };  // std::max lane-wise
      F4 a = splat<F4>(lo), b = a, c = a, d = a;
      for (; i + 16 <= n; i += 16) {
        a = vmax(a, load4(x + i));
        b = vmax(b, load4(x + i + 4));
        c = vmax(c, load4(x + i + 8));
        d = vmax(d, load4(x + i + 12));
      }
      const F4 r = vmax(vmax(a, b), vmax(c, d));
      m[0] = r[0], m[1] = r[1], m[2] = r[2], m[3] = r[3];
    }
  }
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

// Note [Softmax sums]: every line sum below is in double with four partial
// sums (element i goes to i % 4, then (s0 + s1) + (s2 + s3)): that breaks the
// serial add chain, and the order depends only on n, never on the layout,
// the vector path or the thread split. Lane4 holds the four partial sums as
// two 2-double vectors so the float path adds four converted values with two
// vector adds.
struct Lane4 {
  typedef double D2 __attribute__((vector_size(16)));
  D2 lo, hi;  // lanes 0, 1 and 2, 3
  // A user constructor, not member initializers: nvcc's device pass (ops are
  // compiled as CUDA) fails on the implicit one's vector constants.
  Lane4() : lo(D2{0, 0}), hi(D2{0, 0}) {}
  void add(math::vec::F4 v) {
    lo += D2{v[0], v[1]};
    hi += D2{v[2], v[3]};
  }
  void add_at(int64_t i, double v) {
    if ((i & 3) < 2) lo[i & 1] += v;
    else hi[i & 1] += v;
  }
  double total() const { return (lo[0] + lo[1]) + (hi[0] + hi[1]); }
};

// sum_i map(i) in Note [Softmax sums]' order, where vmap(i) gives the four
// floats i..i+3 as an F4 (float lines with unit strides) and map(i) one
// value in T; y[i] = store(...) is up to the callers.
template <class T, class VMap, class Map>
inline double lane4_sum(int64_t n, bool vec, const VMap& vmap, const Map& map) {
  Lane4 s;
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (vec)
      for (; i + 4 <= n; i += 4) s.add(vmap(i));
  }
  for (; i < n; ++i) s.add_at(i, static_cast<double>(map(i)));
  return s.total();
}

// sum_i e^(x[i * xs] - m) in double (Note [Softmax sums]).
template <class T>
inline double exp_shift_sum(const T* x, int64_t xs, T m, int64_t n) {
  using namespace math::vec;
  return lane4_sum<T>(
      n, xs == 1, [&](auto i) { return exp_f32(load4(x + i) - m); },
      [&](int64_t i) { return exp_elem(x[i * xs] - m); });
}

// y[i * ys] = e^(x[i * xs] - m), returning the sum of the y in double in one
// pass (softmax's exp and its normaliser).
template <class T>
inline double exp_shift_store_sum(const T* x, int64_t xs, T m, T* y, int64_t ys, int64_t n) {
  using namespace math::vec;
  if constexpr (std::is_same_v<T, float>) {
    if (xs == 1 && ys == 1)
      return lane4_sum<T>(
          n, true,
          [&](int64_t i) {
            const F4 e = exp_f32(load4(x + i) - m);
            store4(y + i, e);
            return e;
          },
          [&](int64_t i) { return y[i] = exp_elem(x[i] - m); });
  }
  return lane4_sum<T>(n, false, [](int64_t) { return F4{}; },
                      [&](int64_t i) { return y[i * ys] = exp_elem(x[i * xs] - m); });
}

// sum_i g[i * gs] * y[i * ys] (products rounded in T, summed in double).
template <class T>
inline double dot_line(const T* g, int64_t gs, const T* y, int64_t ys, int64_t n) {
  using namespace math::vec;
  return lane4_sum<T>(
      n, gs == 1 && ys == 1, [&](auto i) { return load4(g + i) * load4(y + i); },
      [&](int64_t i) { return g[i * gs] * y[i * ys]; });
}

// sum_i g[i * gs] in double.
template <class T>
inline double sum_line(const T* g, int64_t gs, int64_t n) {
  using namespace math::vec;
  return lane4_sum<T>(n, gs == 1, [&](auto i) { return load4(g + i); },
                      [&](int64_t i) { return g[i * gs]; });
}

// out[i * os] = f(a[i * as], b[i * bs]) (f also takes F4 pairs for float
// lines with unit strides); the second pass of the softmax backwards, over a
// line that the first pass left in cache.
template <class T, class F>
inline void map2_line(const T* a, int64_t as, const T* b, int64_t bs, T* out, int64_t os,
                      int64_t n, const F& f) {
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (as == 1 && bs == 1 && os == 1)
      for (; i + 4 <= n; i += 4)
        math::vec::store4(out + i, f(math::vec::load4(a + i), math::vec::load4(b + i)));
  }
  for (; i < n; ++i) out[i * os] = f(a[i * as], b[i * bs]);
}

// out[i * os] = f(a[i * as]), the one-input form of map2_line.
template <class T, class F>
inline void map_line(const T* a, int64_t as, T* out, int64_t os, int64_t n, const F& f) {
  map2_line(a, as, a, as, out, os, n, [&f](auto v, auto) { return f(v); });
}

}  // namespace fastgrad::cpu
