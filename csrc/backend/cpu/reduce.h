// The generic CPU reduction engine.
//
// A reduction over a set of dims is seen as "rows": the kept dims index the
// rows (in their original order, so row r is element r of the contiguous
// keepdim-free output) and the reduced dims form one strided run per row.
// make_row_layout() collapses the reduced dims into that single run
// (pointer, stride, n); only when they cannot be collapsed does it copy the
// input once into a permuted contiguous buffer (kept dims first, reduced dims
// last). for_each_row() then calls a per-row functor in parallel (strided
// runs of adjacent rows are first transposed in cache-sized tiles, Note
// [Tiled rows]). Ops are functors of (row, const T* p, stride, n); they never
// walk strides of more than one dim themselves.
//
// Lines (scan / softmax along one dim) are the same layout with exactly one
// reduced dim, which is always a single run, so no copy is ever needed;
// for_each_line() hands the functor an input and an output line.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/parallel.h"
#include "core/tensor.h"

namespace fastgrad::cpu {

struct RowLayout {
  Tensor src;           // what the strides refer to (the input or a copy)
  Shape outer_sizes;    // kept dims, outermost first
  Shape outer_strides;  // elements, of src
  int64_t rows = 1;
  int64_t n = 1;        // length of each reduced run
  int64_t stride = 1;   // element stride inside a run

  int64_t offset_of(int64_t row) const {
    int64_t off = 0;
    for (int64_t d = static_cast<int64_t>(outer_sizes.size()) - 1; d >= 0; --d) {
      off += (row % outer_sizes[d]) * outer_strides[d];
      row /= outer_sizes[d];
    }
    return off;
  }
};

// A new contiguous copy of `x` through the elementwise loop (the backend may
// not call ops/).
inline Tensor contiguous_copy(const Tensor& x) {
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu_kernel<T, T>(out, {&x}, [](T v) { return v; });
  });
  return out;
}

// reduce[d] says whether dim d is reduced. `ordered`: the run must visit the
// reduced elements in logical (row-major) order, as argmax's flat index and
// scans need; otherwise reduced dims may be reordered by stride to avoid a
// copy (sums, max, ...).
inline RowLayout make_row_layout(const Tensor& x, const std::vector<bool>& reduce,
                                 bool ordered) {
  RowLayout L;
  Shape red_sizes, red_strides;
  std::vector<int64_t> kept, red;
  // Size-1 kept dims index nothing; dropping them lets the innermost real
  // kept dim be seen as adjacent rows (Note [Tiled rows]).
  for (int64_t d = 0; d < x.dim(); ++d)
    if (reduce[d]) red.push_back(d);
    else if (x.sizes()[d] != 1) kept.push_back(d);
  for (int64_t d : kept) {
    L.outer_sizes.push_back(x.sizes()[d]);
    L.outer_strides.push_back(x.strides()[d]);
  }
  L.rows = numel_of(L.outer_sizes);
  L.n = 1;
  for (int64_t d : red) L.n *= x.sizes()[d];
  L.src = x;
  // Size-1 dims never matter; the rest merge when dim i steps over dim i+1.
  std::vector<int64_t> order;
  for (int64_t d : red)
    if (x.sizes()[d] != 1) order.push_back(d);
  if (!ordered)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return x.strides()[a] > x.strides()[b];
    });
  bool single_run = true;
  for (size_t i = 0; i + 1 < order.size(); ++i)
    single_run &= x.strides()[order[i]] ==
                  x.strides()[order[i + 1]] * x.sizes()[order[i + 1]];
  if (single_run || L.n == 0) {
    L.stride = order.empty() ? 1 : x.strides()[order.back()];
    return L;
  }
  // Not collapsible: permute (kept..., reduced...) and copy once.
  Shape sizes, strides;
  for (int64_t d : kept) { sizes.push_back(x.sizes()[d]); strides.push_back(x.strides()[d]); }
  for (int64_t d : red) { sizes.push_back(x.sizes()[d]); strides.push_back(x.strides()[d]); }
  L.src = contiguous_copy(make_view(x, sizes, strides, x.offset()));
  int64_t acc = L.n;  // row-major strides of the kept dims in the copy
  for (int64_t i = static_cast<int64_t>(kept.size()) - 1; i >= 0; --i) {
    L.outer_strides[i] = acc;
    acc *= L.outer_sizes[i];
  }
  L.stride = 1;
  return L;
}

// The layout of the lines along `dim` (every other dim is a row).
inline RowLayout make_line_layout(const Tensor& x, int64_t dim) {
  std::vector<bool> reduce(x.dim(), false);
  if (x.dim() > 0) reduce[dim] = true;
  return make_row_layout(x, reduce, /*ordered=*/true);
}

// Note [Tiled rows]: when the reduced run is strided but neighbouring rows
// are adjacent in memory (sum over dim 0 of a row-major matrix), walking one
// row at a time touches a new cache line per element. Instead a tile of up to
// kTileRows neighbouring rows is transposed into a contiguous scratch buffer
// (reading whole cache lines) and the functor runs on it with stride 1; line
// outputs are transposed back the same way.
constexpr int64_t kTileRows = 64;
constexpr int64_t kTileElems = int64_t{1} << 18;

// Rows per tile for L, or 0 where rows are walked directly.
inline int64_t tile_rows(const RowLayout& L) {
  size_t no = L.outer_sizes.size();
  if (L.n <= 1 || no == 0 || L.outer_strides[no - 1] != 1) return 0;
  int64_t B = std::min({kTileRows, L.outer_sizes[no - 1], kTileElems / L.n});
  return B >= 8 ? B : 0;
}

// body(r0, cnt, scratch) for tiles of cnt <= B adjacent rows starting at row
// r0, in parallel; each task owns `scratch_bytes` of scratch memory.
template <class Body>
void for_each_tile(const RowLayout& L, int64_t B, size_t scratch_bytes, const Body& body) {
  const int64_t inner = L.outer_sizes.back();
  const int64_t per_line = (inner + B - 1) / B;
  const int64_t tiles = L.rows / inner * per_line;
  parallel_for(0, tiles, std::max<int64_t>(1, kGrain / (B * L.n)), [&](int64_t b, int64_t e) {
    std::unique_ptr<char[]> scratch(new char[scratch_bytes]);
    for (int64_t t = b; t < e; ++t) {
      int64_t j0 = t % per_line * B;
      body(t / per_line * inner + j0, std::min(B, inner - j0), scratch.get());
    }
  });
}

// buf[j * n + i] = p[i * s + j] for cnt rows, and back.
template <class T>
void gather_rows(const T* p, int64_t s, int64_t n, int64_t cnt, T* buf) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < cnt; ++j) buf[j * n + i] = p[i * s + j];
}
template <class T>
void scatter_rows(const T* buf, int64_t n, int64_t cnt, T* q, int64_t s) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < cnt; ++j) q[i * s + j] = buf[j * n + i];
}

// f(row, const T* p, stride, n) for every row, in parallel. Rows are grouped
// so each task touches about kGrain elements.
template <class T, class F>
void for_each_row(const RowLayout& L, const F& f) {
  const T* base = static_cast<const T*>(L.src.raw_data());
  const int64_t n = L.n;
  if (int64_t B = L.stride != 1 ? tile_rows(L) : 0) {
    for_each_tile(L, B, sizeof(T) * B * n, [&](int64_t r0, int64_t cnt, char* scratch) {
      T* buf = reinterpret_cast<T*>(scratch);
      gather_rows(base + L.offset_of(r0), L.stride, n, cnt, buf);
      for (int64_t j = 0; j < cnt; ++j) f(r0 + j, buf + j * n, int64_t{1}, n);
    });
    return;
  }
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1));
  parallel_for(0, L.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) f(r, base + L.offset_of(r), L.stride, n);
  });
}

// Two layouts with the same rows (input lines and output lines):
// f(const In* p, in_stride, Out* q, out_stride, n).
template <class In, class Out, class F>
void for_each_line(const RowLayout& in, const RowLayout& out, const F& f) {
  const In* ib = static_cast<const In*>(in.src.raw_data());
  Out* ob = static_cast<Out*>(out.src.raw_data());
  const int64_t n = in.n;
  int64_t B = in.stride != 1 || out.stride != 1 ? std::min(tile_rows(in), tile_rows(out)) : 0;
  if (B) {
    size_t in_bytes = (sizeof(In) * B * n + 15) / 16 * 16;  // align the Out part
    for_each_tile(in, B, in_bytes + sizeof(Out) * B * n,
                  [&](int64_t r0, int64_t cnt, char* scratch) {
      In* bi = reinterpret_cast<In*>(scratch);
      Out* bo = reinterpret_cast<Out*>(scratch + in_bytes);
      gather_rows(ib + in.offset_of(r0), in.stride, n, cnt, bi);
      for (int64_t j = 0; j < cnt; ++j) f(bi + j * n, int64_t{1}, bo + j * n, int64_t{1}, n);
      scatter_rows(bo, n, cnt, ob + out.offset_of(r0), out.stride);
    });
    return;
  }
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1));
  parallel_for(0, in.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      f(ib + in.offset_of(r), in.stride, ob + out.offset_of(r), out.stride, n);
  });
}

// Pairwise summation of map(p[i * s]) in Acc: error grows with log(n), not n,
// which keeps float64 sums of millions of terms at numpy's accuracy.
template <class Acc, class T, class Map>
Acc pairwise_sum(const T* p, int64_t s, int64_t n, const Map& map) {
  constexpr int64_t kBlock = 128;
  if (n <= kBlock) {
    Acc acc[4] = {0, 0, 0, 0};  // four lanes let the compiler pipeline adds
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) acc[k] += static_cast<Acc>(map(p[(i + k) * s]));
    for (; i < n; ++i) acc[0] += static_cast<Acc>(map(p[i * s]));
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  int64_t half = (n / 2 + kBlock - 1) / kBlock * kBlock;
  return pairwise_sum<Acc>(p, s, half, map) + pairwise_sum<Acc>(p + half * s, s, n - half, map);
}

}  // namespace fastgrad::cpu
