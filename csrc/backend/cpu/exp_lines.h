// max and exp over one strided line of a softmax-like kernel (softmax, log_softmax,
// fused cross entropy): float uses math/vec_exp.h, kLanes at a time when the
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

// e^x for one element of type T, or for kLanes floats (a VF).
template <class T>
inline T exp_elem(T x) {
  if constexpr (std::is_same_v<T, double>) return std::exp(x);
  else return math::vec::exp_f32(x);
}

// max_i x[i * xs] over the non-NaN values (-inf if none), as a serial
// std::max would give up to the sign of a zero maximum. Float lines with unit
// stride keep four VF maxima in registers (4 * kLanes independent compares
// per step: the first pass over a line from memory is otherwise one serial
// compare chain); the rest uses four scalar lanes.
template <class T>
inline T max_line(const T* x, int64_t xs, int64_t n) {
  const T lo = -std::numeric_limits<T>::infinity();
  T m[4] = {lo, lo, lo, lo};
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    using namespace math::vec;
    if (xs == 1 && n >= 4 * kLanes) {
      auto vmax = [](VF a, VF b) { return select_lt(a, b, b, a); };  // std::max lane-wise
      VF a = splat<VF>(lo), b = a, c = a, d = a;
      for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
        a = vmax(a, loadv(x + i));
        b = vmax(b, loadv(x + i + kLanes));
        c = vmax(c, loadv(x + i + 2 * kLanes));
        d = vmax(d, loadv(x + i + 3 * kLanes));
      }
      const VF r = vmax(vmax(a, b), vmax(c, d));
      for (int k = 0; k < kLanes; ++k) m[k & 3] = std::max(m[k & 3], r[k]);
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
      return math::vec::mapv(x, y, n, [m, c](auto v) { return c * math::vec::exp_f32(v - m); });
  }
  for (int64_t i = 0; i < n; ++i) y[i * ys] = c * exp_elem(x[i * xs] - m);
}

// Note [Softmax sums]: every line sum below is in double with eight partial
// sums (element i goes to i % 8, then ((s0 + s1) + (s2 + s3)) + ((s4 + s5) +
// (s6 + s7))): that breaks the serial add chain into two independent vector
// chains, and the order depends only on n, never on the layout, the vector
// width or the thread split. Lane8 holds the partial sums as two 4-double
// vectors (one AVX register each), so eight converted floats cost two adds.
struct Lane8 {
  typedef double D4 __attribute__((vector_size(32)));
  D4 lo, hi;  // lanes 0-3 and 4-7
  // A user constructor, not member initializers: nvcc's device pass (ops are
  // compiled as CUDA) fails on the implicit one's vector constants.
  Lane8() : lo(D4{0, 0, 0, 0}), hi(D4{0, 0, 0, 0}) {}
  // Adds floats i..i+kLanes-1 (vmap's VF) to lanes i % 8 onwards.
  template <class V>  // math::vec::VF (a template, so only one branch compiles)
  void add(int64_t i, V v) {
    constexpr int kLanes = sizeof(V) / sizeof(float);
    // Plain element lists (the compiler emits one convert per half) rather
    // than __builtin_convertvector, which nvcc's front end does not know.
    if constexpr (kLanes == 8) {
      lo += D4{v[0], v[1], v[2], v[3]};
      hi += D4{v[4], v[5], v[6], v[7]};
    } else {
      static_assert(kLanes == 4);
      if (i & 4) hi += D4{v[0], v[1], v[2], v[3]};
      else lo += D4{v[0], v[1], v[2], v[3]};
    }
  }
  void add_at(int64_t i, double v) {
    if ((i & 7) < 4) lo[i & 3] += v;
    else hi[i & 3] += v;
  }
  double total() const {
    return ((lo[0] + lo[1]) + (lo[2] + lo[3])) + ((hi[0] + hi[1]) + (hi[2] + hi[3]));
  }
};

// sum_i map(i) in Note [Softmax sums]' order, where vmap(i) gives the kLanes
// floats i..i+kLanes-1 as a VF (float lines with unit strides) and map(i) one
// value in T; y[i] = store(...) is up to the callers.
template <class T, class VMap, class Map>
inline double lane_sum(int64_t n, bool vec, const VMap& vmap, const Map& map) {
  using math::vec::kLanes;
  Lane8 s;
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (vec)
      for (; i + kLanes <= n; i += kLanes) s.add(i, vmap(i));
  }
  for (; i < n; ++i) s.add_at(i, static_cast<double>(map(i)));
  return s.total();
}

// sum_i e^(x[i * xs] - m) in double (Note [Softmax sums]).
template <class T>
inline double exp_shift_sum(const T* x, int64_t xs, T m, int64_t n) {
  using namespace math::vec;
  return lane_sum<T>(
      n, xs == 1, [&](auto i) { return exp_f32(loadv(x + i) - m); },
      [&](int64_t i) { return exp_elem(x[i * xs] - m); });
}

// y[i * ys] = e^(x[i * xs] - m), returning the sum of the y in double in one
// pass (softmax's exp and its normaliser).
template <class T>
inline double exp_shift_store_sum(const T* x, int64_t xs, T m, T* y, int64_t ys, int64_t n) {
  using namespace math::vec;
  if constexpr (std::is_same_v<T, float>) {
    if (xs == 1 && ys == 1)
      return lane_sum<T>(
          n, true,
          [&](int64_t i) {
            const VF e = exp_f32(loadv(x + i) - m);
            storev(y + i, e);
            return e;
          },
          [&](int64_t i) { return y[i] = exp_elem(x[i] - m); });
  }
  return lane_sum<T>(n, false, [](int64_t) { return VF{}; },
                      [&](int64_t i) { return y[i * ys] = exp_elem(x[i * xs] - m); });
}

// sum_i g[i * gs] * y[i * ys] (products rounded in T, summed in double).
template <class T>
inline double dot_line(const T* g, int64_t gs, const T* y, int64_t ys, int64_t n) {
  using namespace math::vec;
  return lane_sum<T>(
      n, gs == 1 && ys == 1, [&](auto i) { return loadv(g + i) * loadv(y + i); },
      [&](int64_t i) { return g[i * gs] * y[i * ys]; });
}

// sum_i g[i * gs] in double.
template <class T>
inline double sum_line(const T* g, int64_t gs, int64_t n) {
  using namespace math::vec;
  return lane_sum<T>(n, gs == 1, [&](auto i) { return loadv(g + i); },
                      [&](int64_t i) { return g[i * gs]; });
}

// out[i * os] = f(a[i * as], b[i * bs]) (f also takes VF pairs for float
// lines with unit strides); the second pass of the softmax backwards, over a
// line that the first pass left in cache.
template <class T, class F>
inline void map2_line(const T* a, int64_t as, const T* b, int64_t bs, T* out, int64_t os,
                      int64_t n, const F& f) {
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (as == 1 && bs == 1 && os == 1)
      for (; i + math::vec::kLanes <= n; i += math::vec::kLanes)
        math::vec::storev(out + i, f(math::vec::loadv(a + i), math::vec::loadv(b + i)));
  }
  for (; i < n; ++i) out[i * os] = f(a[i * as], b[i * bs]);
}

// out[i * os] = f(a[i * as]), the one-input form of map2_line.
template <class T, class F>
inline void map_line(const T* a, int64_t as, T* out, int64_t os, int64_t n, const F& f) {
  map2_line(a, as, a, as, out, os, n, [&f](auto v, auto) { return f(v); });
}

}  // namespace fastgrad::cpu
