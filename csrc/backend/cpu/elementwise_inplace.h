// cpu_kernel_inplace<T>(shape, {ops...}, f): f(e0, e1, ...) per element, with
// every operand passed as a T& into its own tensor, so one pass may read and
// write several tensors at once (e.g. a parameter and its optimizer state).
//
// All operands have dtype T and exactly `shape` (no broadcasting: a written
// operand must not alias itself). A null operand is optional: the functor gets
// a reference to a per-run scratch value instead, which keeps the arity fixed
// while options (momentum, amsgrad, ...) decide which state exists.
#pragma once
#include <utility>

#include "backend/cpu/strided_loop.h"

namespace fastgrad::cpu {

namespace detail {

template <class T, size_t N, class F, size_t... I>
inline void inplace_run(char* const* p, const int64_t* s, int64_t n, const F& f,
                        std::index_sequence<I...>) {
  bool contig = true;
  for (size_t k = 0; k < N; ++k)
    contig &= s[k] == static_cast<int64_t>(sizeof(T)) || s[k] == 0;
  if (contig) {
    // Scratch operands have stride 0: index them with 0, everything else with i.
    const int64_t step[N] = {(s[I] == 0 ? 0 : 1)...};
    std::array<T*, N> b{reinterpret_cast<T*>(p[I])...};
    for (int64_t i = 0; i < n; ++i) f(b[I][i * step[I]]...);
    return;
  }
  for (int64_t i = 0; i < n; ++i) f(*reinterpret_cast<T*>(p[I] + i * s[I])...);
}

}  // namespace detail

template <class T, size_t N, class F>
void cpu_kernel_inplace(const Shape& shape, const std::array<const Tensor*, N>& ops,
                        const F& f) {
  // Missing operands borrow operand 0's geometry for the layout, then get
  // stride 0 and a null base that each run replaces with its own scratch.
  std::array<const Tensor*, N> geo;
  for (size_t k = 0; k < N; ++k) geo[k] = ops[k] ? ops[k] : ops[0];
  auto L = make_layout<N>(shape, geo);
  for (size_t k = 0; k < N; ++k) {
    if (ops[k]) continue;
    L.base[k] = nullptr;
    for (auto& st : L.strides) st[k] = 0;
  }
  for_each_run(L, [&](char** p, const int64_t* s, int64_t n) {
    T scratch[N] = {};
    std::array<char*, N> q;
    std::array<int64_t, N> qs;
    for (size_t k = 0; k < N; ++k) {
      q[k] = p[k] ? p[k] : reinterpret_cast<char*>(&scratch[k]);
      qs[k] = p[k] ? s[k] : 0;
    }
    detail::inplace_run<T, N>(q.data(), qs.data(), n, f, std::make_index_sequence<N>{});
  });
}

}  // namespace fastgrad::cpu
