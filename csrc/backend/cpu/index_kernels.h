// Generic CPU kernels for indexing by precomputed element offsets. Every
// indexing op (advanced getitem/setitem, index_select, gather, scatter,
// index_add, take, ...) reduces to one of two loops over an iteration shape:
//   gather:  out[i]          = src[i + off[i]]
//   scatter: dst[i + off[i]] = val[i]        (or +=, *=)
// where src/dst are views of the indexed tensor restrided to the iteration
// shape (stride 0 along the indexed dims) and off is an int64 tensor (in
// elements, already bounds-checked) viewed at that shape. The ops build the
// views; these loops know nothing about which op they serve.
#pragma once
#include "backend/cpu/strided_loop.h"

namespace fastgrad::cpu {

// Serial walk over a layout: scatters may hit one element several times, so
// their writes must not race.
template <size_t N, class Inner>
void for_each_run_serial(const StridedLayout<N>& L, const Inner& inner) {
  if (L.numel == 0) return;
  const int64_t nd = static_cast<int64_t>(L.sizes.size());
  std::vector<int64_t> idx(nd, 0);
  for (int64_t done = 0; done < L.numel; done += L.sizes[nd - 1]) {
    std::array<char*, N> p = L.base;
    for (int64_t d = 0; d < nd; ++d)
      for (size_t k = 0; k < N; ++k) p[k] += idx[d] * L.strides[d][k];
    inner(p.data(), L.strides[nd - 1].data(), L.sizes[nd - 1]);
    for (int64_t d = nd - 2; d >= 0; --d) {
      if (++idx[d] < L.sizes[d]) break;
      idx[d] = 0;
    }
  }
}

// out[i] = src[i + off[i]]; out, src (dtype T) and off (int64) all have or
// broadcast to out's shape.
template <class T>
void gather_offsets_cpu(const Tensor& out, const Tensor& src, const Tensor& off) {
  auto L = make_layout<3>(out.sizes(), {&out, &src, &off});
  for_each_run(L, [](char** p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t o = *reinterpret_cast<const int64_t*>(p[2] + i * s[2]);
      *reinterpret_cast<T*>(p[0] + i * s[0]) =
          *reinterpret_cast<const T*>(p[1] + i * s[1] + o * int64_t(sizeof(T)));
    }
  });
}

// dst[i + off[i]] = f(dst[i + off[i]], val[i]) over `shape`, serially and in
// row-major order (so with duplicates the last write wins, deterministically).
template <class T, class F>
void scatter_offsets_cpu(const Shape& shape, const Tensor& dst, const Tensor& off,
                         const Tensor& val, const F& f) {
  auto L = make_layout<3>(shape, {&dst, &off, &val});
  for_each_run_serial(L, [&f](char** p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t o = *reinterpret_cast<const int64_t*>(p[1] + i * s[1]);
      T* d = reinterpret_cast<T*>(p[0] + i * s[0] + o * int64_t(sizeof(T)));
      *d = f(*d, *reinterpret_cast<const T*>(p[2] + i * s[2]));
    }
  });
}

}  // namespace fastgrad::cpu
