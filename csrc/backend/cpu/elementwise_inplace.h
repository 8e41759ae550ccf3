// cpu_kernel_inplace<T>(shape, {ops...}, f): f(e0, e1, ...) per element, with
// every operand passed as a T& into its own tensor, so one pass may read and
// write several tensors at once (e.g. a parameter and its optimizer state).
//
// All operands have dtype T and exactly `shape`; written operands must not
// have stride-0 dims (check_writable), read-only ones may be broadcasts. A
// null operand is optional: the functor gets a reference into per-run scratch
// (zero at first; writes are discarded), which keeps the arity fixed while
// options (momentum, amsgrad, ...) decide which state exists.
#pragma once
#include <algorithm>
#include <utility>

#include "backend/cpu/strided_loop.h"

namespace fastgrad::cpu {

namespace detail {

// Contiguous runs go in blocks where every operand is unit-stride: stride-0
// operands (read-only broadcasts, and the optional ones, which are null and
// read as zero) are copied into a stack block, so the loop vectorizes. The
// functor never writes a read-only operand, so the block is filled once.
template <class T, size_t N, class F, size_t... I>
inline void inplace_run(char* const* p_in, const int64_t* s, int64_t n, const F& f,
                        std::index_sequence<I...>) {
  T zero[N] = {};
  std::array<char*, N> p;
  for (size_t k = 0; k < N; ++k) p[k] = p_in[k] ? p_in[k] : reinterpret_cast<char*>(&zero[k]);
  bool contig = true;
  for (size_t k = 0; k < N; ++k)
    contig &= s[k] == static_cast<int64_t>(sizeof(T)) || s[k] == 0;
  if (!contig) {
    for (int64_t i = 0; i < n; ++i) f(*reinterpret_cast<T*>(p[I] + i * s[I])...);
    return;
  }
  constexpr int64_t kBlock = 256;
  T block[N][kBlock];
  for (size_t k = 0; k < N; ++k)
    if (s[k] == 0) std::fill_n(block[k], std::min(n, kBlock), *reinterpret_cast<T*>(p[k]));
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t m = std::min(kBlock, n - start);
    std::array<T*, N> b{(s[I] == 0 ? block[I] : reinterpret_cast<T*>(p[I]) + start)...};
    for (int64_t i = 0; i < m; ++i) f(b[I][i]...);
  }
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
    detail::inplace_run<T, N>(p, s, n, f, std::make_index_sequence<N>{});
  });
}

}  // namespace fastgrad::cpu
