// The one generic N-d strided iteration of the CPU backend.
//
// Operand 0 is the output; every operand is viewed with the output's shape
// (broadcast dims have stride 0). Dims are coalesced where all operands allow
// it, so contiguous (and many broadcast) cases become a single inner run.
// `inner(ptrs, byte_strides, n)` is called once per inner run, in parallel
// chunks above kGrain elements.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "backend/cpu/parallel.h"
#include "core/tensor.h"

namespace fastgrad::cpu {

template <size_t N>
struct StridedLayout {
  std::vector<int64_t> sizes;                    // outermost first
  std::vector<std::array<int64_t, N>> strides;   // bytes, per dim per operand
  std::array<char*, N> base;
  int64_t numel = 1;
};

// Strides (in elements) of `t` seen with shape `out` (right-aligned broadcast).
inline Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape st(out.size(), 0);
  int64_t lead = static_cast<int64_t>(out.size()) - t.dim();
  for (int64_t i = 0; i < t.dim(); ++i)
    st[lead + i] = t.sizes()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

template <size_t N>
StridedLayout<N> make_layout(const Shape& shape, const std::array<const Tensor*, N>& ops) {
  StridedLayout<N> L;
  L.numel = numel_of(shape);
  bool flat = true;  // every operand contiguous with the output's shape: one run
  for (size_t k = 0; k < N; ++k) {
    L.base[k] = static_cast<char*>(ops[k]->raw_data());
    flat = flat && ops[k]->sizes() == shape && ops[k]->is_contiguous();
  }
  if (flat) {
    L.sizes.push_back(L.numel);
    std::array<int64_t, N> s;
    for (size_t k = 0; k < N; ++k) s[k] = ops[k]->itemsize();
    L.strides.push_back(s);
    return L;
  }
  // Coalesce from the innermost dim outwards, skipping size-1 dims; built
  // innermost first, reversed at the end.
  const int64_t nd = static_cast<int64_t>(shape.size());
  for (int64_t d = nd - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (size_t k = 0; k < N; ++k) {  // byte stride, 0 where operand k broadcasts
      const Tensor& t = *ops[k];
      int64_t td = d - (nd - t.dim());
      s[k] = td < 0 || t.sizes()[td] == 1 ? 0 : t.strides()[td] * t.itemsize();
    }
    if (!L.sizes.empty()) {
      const auto& in = L.strides.back();
      bool merge = true;
      for (size_t k = 0; k < N; ++k) merge &= s[k] == in[k] * L.sizes.back();
      if (merge) { L.sizes.back() *= shape[d]; continue; }
    }
    L.sizes.push_back(shape[d]);
    L.strides.push_back(s);
  }
  if (L.sizes.empty()) {  // a single element
    L.sizes.push_back(1);
    L.strides.push_back({});
  }
  std::reverse(L.sizes.begin(), L.sizes.end());
  std::reverse(L.strides.begin(), L.strides.end());
  return L;
}

template <size_t N, class Inner>
void for_each_run(const StridedLayout<N>& L, const Inner& inner) {
  if (L.numel == 0) return;
  const int64_t nd = static_cast<int64_t>(L.sizes.size());
  const int64_t inner_n = L.sizes[nd - 1];
  const auto inner_s = L.strides[nd - 1];
  auto run = [&](int64_t begin, int64_t end) {
    if (nd == 1) {  // one coalesced run (contiguous and most broadcasts)
      std::array<char*, N> p = L.base;
      for (size_t k = 0; k < N; ++k) p[k] += begin * inner_s[k];
      inner(p.data(), inner_s.data(), end - begin);
      return;
    }
    std::vector<int64_t> idx(nd, 0);
    int64_t rem = begin;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[d] = rem % L.sizes[d];
      rem /= L.sizes[d];
    }
    while (begin < end) {
      std::array<char*, N> p = L.base;
      for (int64_t d = 0; d < nd; ++d)
        for (size_t k = 0; k < N; ++k) p[k] += idx[d] * L.strides[d][k];
      int64_t n = std::min(inner_n - idx[nd - 1], end - begin);
      inner(p.data(), inner_s.data(), n);
      begin += n;
      idx[nd - 1] += n;
      for (int64_t d = nd - 1; d > 0 && idx[d] == L.sizes[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  };
  parallel_for(0, L.numel, kGrain, run);
}

}  // namespace fastgrad::cpu
