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
// walk strides of more than one dim themselves. Sums skip the transposition:
// for_each_col_tile() + pairwise_sum_cols() reduce up to kColTile adjacent
// rows at once, vectorised across them (Note [Pairwise sums]).
//
// Lines (scan / softmax along one dim) are the same layout with exactly one
// reduced dim, which is always a single run, so no copy is ever needed;
// for_each_lines() hands the functor the lines of several same-shaped
// operands (inputs, then outputs).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/transpose.h"
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

// Whether the reduced dims of x form one strided run (in logical order when
// `ordered`), so make_row_layout needs no copy.
inline bool reduced_dims_collapse(const Tensor& x, const std::vector<bool>& reduce,
                                  bool ordered) {
  std::vector<int64_t> order;
  int64_t n = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (reduce[d]) {
      n *= x.sizes()[d];
      if (x.sizes()[d] != 1) order.push_back(d);
    }
  if (!ordered)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return x.strides()[a] > x.strides()[b];
    });
  bool single_run = true;
  for (size_t i = 0; i + 1 < order.size(); ++i)
    single_run &= x.strides()[order[i]] ==
                  x.strides()[order[i + 1]] * x.sizes()[order[i + 1]];
  return single_run || n == 0;
}

// reduce[d] says whether dim d is reduced. `ordered`: the run must visit the
// reduced elements in logical (row-major) order, as argmax's flat index and
// scans need; otherwise reduced dims may be reordered by stride to avoid a
// copy (sums, max, ...). The copy runs on the CPU: other devices first make
// the layout collapse (reduced_dims_collapse).
inline RowLayout make_row_layout(const Tensor& x, const std::vector<bool>& reduce,
                                 bool ordered) {
  RowLayout L;
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
  if (reduced_dims_collapse(x, reduce, ordered)) {
    // The innermost run dim: the smallest stride (the last in logical order).
    L.stride = 1;
    bool first = true;
    for (int64_t d : red)
      if (x.sizes()[d] != 1 && (ordered || first || x.strides()[d] <= L.stride)) {
        L.stride = x.strides()[d];
        first = false;
      }
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

// Rows per tile for L when `operands` layouts share the scratch, or 0 where
// rows are walked directly.
inline int64_t tile_rows(const RowLayout& L, int64_t operands = 1) {
  size_t no = L.outer_sizes.size();
  if (L.n <= 1 || no == 0 || L.outer_strides[no - 1] != 1) return 0;
  int64_t B = std::min({kTileRows, L.outer_sizes[no - 1], kTileElems / (L.n * operands)});
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
    std::unique_ptr<char[]> scratch(scratch_bytes ? new char[scratch_bytes] : nullptr);
    for (int64_t t = b; t < e; ++t) {
      int64_t j0 = t % per_line * B;
      body(t / per_line * inner + j0, std::min(B, inner - j0), scratch.get());
    }
  });
}

// buf[j * n + i] = p[i * s + j] for cnt rows, and back, in cache tiles
// (Note [Tiled transpose]).
template <class T>
void gather_rows(const T* p, int64_t s, int64_t n, int64_t cnt, T* buf) {
  copy_2d_tiled(buf, n, int64_t{1}, p, int64_t{1}, s, cnt, n, [](T v) { return v; });
}
template <class T>
void scatter_rows(const T* buf, int64_t n, int64_t cnt, T* q, int64_t s) {
  copy_2d_tiled(q, s, int64_t{1}, buf, int64_t{1}, n, n, cnt, [](T v) { return v; });
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

// K same-shaped operands of type T seen as lines along one dim (layouts from
// make_line_layout): the first NIn are read, the others written.
// f(std::array<T*, K> p, std::array<int64_t, K> strides, n) runs once per line,
// in parallel. Strided lines of adjacent rows go through Note [Tiled rows].
template <class T, size_t NIn, size_t K, class F>
void for_each_lines(const std::array<const RowLayout*, K>& L, const F& f) {
  std::array<T*, K> base;
  bool strided = false;
  int64_t B = kTileRows;
  for (size_t k = 0; k < K; ++k) {
    base[k] = static_cast<T*>(L[k]->src.raw_data());
    strided |= L[k]->stride != 1;
    B = std::min(B, tile_rows(*L[k], K));
  }
  const int64_t n = L[0]->n;
  if (strided && B) {
    for_each_tile(*L[0], B, sizeof(T) * B * n * K, [&](int64_t r0, int64_t cnt, char* scratch) {
      std::array<T*, K> p;
      std::array<int64_t, K> unit;
      for (size_t k = 0; k < K; ++k) {
        p[k] = reinterpret_cast<T*>(scratch) + k * B * n;
        unit[k] = 1;
        if (k < NIn) gather_rows<T>(base[k] + L[k]->offset_of(r0), L[k]->stride, n, cnt, p[k]);
      }
      for (int64_t j = 0; j < cnt; ++j) {
        std::array<T*, K> q = p;
        for (auto& ptr : q) ptr += j * n;
        f(q, unit, n);
      }
      for (size_t k = NIn; k < K; ++k)
        scatter_rows<T>(p[k], n, cnt, base[k] + L[k]->offset_of(r0), L[k]->stride);
    });
    return;
  }
  std::array<int64_t, K> strides;
  for (size_t k = 0; k < K; ++k) strides[k] = L[k]->stride;
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1));
  parallel_for(0, L[0]->rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      std::array<T*, K> p;
      for (size_t k = 0; k < K; ++k) p[k] = base[k] + L[k]->offset_of(r);
      f(p, strides, n);
    }
  });
}

// One input and one output line: f(const T* p, in_stride, T* q, out_stride, n).
template <class T, class F>
void for_each_line(const RowLayout& in, const RowLayout& out, const F& f) {
  for_each_lines<T, 1, 2>({&in, &out}, [&](const auto& p, const auto& s, int64_t n) {
    f(static_cast<const T*>(p[0]), s[0], p[1], s[1], n);
  });
}

// Note [Pairwise sums]: pairwise summation of map(p[i * s]) in Acc: error
// grows with log(n), not n, which keeps float64 sums of millions of terms at
// numpy's accuracy. Blocks of up to kPairBlock elements are summed in
// kPairLanes partial sums (element i in lane i % kPairLanes; the tail goes to
// lane 0), combined as a balanced tree; halves split at multiples of
// kPairBlock. The tree depends only on n, so the result is the same bits for
// any stride, layout or thread count; pairwise_sum_cols below walks the same
// tree for several columns at once.
constexpr int64_t kPairBlock = 128;
constexpr int kPairLanes = 8;  // independent adds: enough to hide add latency

template <class Acc>
inline Acc combine_lanes(const Acc* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

inline int64_t pairwise_half(int64_t n) {
  return (n / 2 + kPairBlock - 1) / kPairBlock * kPairBlock;
}

// Note [Vector leaves]: a double leaf over a unit-stride run keeps its eight
// lanes in two 4-double vectors (lanes 0-3 and 4-7: one AVX register each;
// two SSE registers without AVX), so eight elements cost two converts and two
// adds. Same lanes, same order: the bits of the scalar loop. (Summing up to
// four leaves in one interleaved pass measured slower, not faster.)
namespace detail {
typedef double D4 __attribute__((vector_size(32)));

template <class T, class Map>
inline D4 load_d4(const T* p, const Map& map) {
  return D4{static_cast<double>(map(p[0])), static_cast<double>(map(p[1])),
            static_cast<double>(map(p[2])), static_cast<double>(map(p[3]))};
}
}  // namespace detail

// One leaf of the tree: up to kPairBlock elements in kPairLanes lanes.
template <class Acc, class T, class Map>
Acc pairwise_leaf(const T* p, int64_t s, int64_t n, const Map& map) {
  Acc acc[kPairLanes] = {};
  int64_t i = 0;
  if constexpr (std::is_same_v<Acc, double> && kPairLanes == 8) {
    if (s == 1) {
      detail::D4 lo{}, hi{};
      for (; i + 8 <= n; i += 8) {
        lo += detail::load_d4(p + i, map);
        hi += detail::load_d4(p + i + 4, map);
      }
      for (int k = 0; k < 4; ++k) acc[k] = lo[k], acc[k + 4] = hi[k];
    }
  }
  for (; i + kPairLanes <= n; i += kPairLanes)
    for (int k = 0; k < kPairLanes; ++k) acc[k] += static_cast<Acc>(map(p[(i + k) * s]));
  for (; i < n; ++i) acc[0] += static_cast<Acc>(map(p[i * s]));
  return combine_lanes(acc);
}

template <class Acc, class T, class Map>
Acc pairwise_sum(const T* p, int64_t s, int64_t n, const Map& map) {
  if (n <= kPairBlock) return pairwise_leaf<Acc>(p, s, n, map);
  const int64_t half = pairwise_half(n);
  return pairwise_sum<Acc>(p, s, half, map) + pairwise_sum<Acc>(p + half * s, s, n - half, map);
}

// out[c] = pairwise_sum(p + c, s, n, map) for c < cnt <= kColTile adjacent
// columns, bit for bit, but vectorised across the columns: a column
// reduction (sum over dim 0) reads whole runs of each row instead of
// transposing first.
constexpr int64_t kColTile = 64;

template <class Acc, class T, class Map>
void pairwise_sum_cols(const T* p, int64_t s, int64_t n, int64_t cnt, const Map& map, Acc* out) {
  if (n <= kPairBlock) {
    Acc acc[kPairLanes][kColTile] = {};
    int64_t i = 0;
    for (; i + kPairLanes <= n; i += kPairLanes)
      for (int k = 0; k < kPairLanes; ++k) {
        const T* row = p + (i + k) * s;
        for (int64_t c = 0; c < cnt; ++c) acc[k][c] += static_cast<Acc>(map(row[c]));
      }
    for (; i < n; ++i)
      for (int64_t c = 0; c < cnt; ++c) acc[0][c] += static_cast<Acc>(map(p[i * s + c]));
    for (int64_t c = 0; c < cnt; ++c) {
      Acc lanes[kPairLanes];
      for (int k = 0; k < kPairLanes; ++k) lanes[k] = acc[k][c];
      out[c] = combine_lanes(lanes);
    }
    return;
  }
  const int64_t half = pairwise_half(n);
  Acc right[kColTile];
  pairwise_sum_cols<Acc>(p, s, half, cnt, map, out);
  pairwise_sum_cols<Acc>(p + half * s, s, n - half, cnt, map, right);
  for (int64_t c = 0; c < cnt; ++c) out[c] += right[c];
}

// Column tiles: body(r0, p, s, n, cnt) for runs of cnt <= kColTile adjacent
// rows (the rows' runs start at p + j, j < cnt, each with stride s), in
// parallel; false (nothing done) unless L is such a column layout.
template <class T, class Body>
bool for_each_col_tile(const RowLayout& L, const Body& body) {
  const size_t no = L.outer_sizes.size();
  if (L.stride == 1 || L.n <= 1 || no == 0 || L.outer_strides[no - 1] != 1) return false;
  const T* base = static_cast<const T*>(L.src.raw_data());
  for_each_tile(L, std::min(kColTile, L.outer_sizes[no - 1]), 0,
                [&](int64_t r0, int64_t cnt, char*) {
    body(r0, base + L.offset_of(r0), L.stride, L.n, cnt);
  });
  return true;
}

}  // namespace fastgrad::cpu
