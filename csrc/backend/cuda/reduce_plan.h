// The CUDA reduction engine's host-side half, free of CUDA headers: the row
// indexer a kernel takes by value, the choice of kernel shape for a
// cpu::RowLayout, and simulate_rows(), which runs the kernels' exact
// decomposition (per-thread strided partials, the warp shuffle tree, the
// cross-warp / cross-split merges) on the host. The CPU tests check the
// combiners of math/reduce.h through it (_C._cuda._reduce_sim) in every
// build; backend/cuda/reduce.cuh launches the same plan on the device.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend/cpu/reduce.h"
#include "backend/cuda/strided_indexer.h"
#include "core/check.h"
#include "math/reduce.h"

namespace fastgrad::cuda {

constexpr int kReduceThreads = 256;  // threads per block of every reduction kernel
constexpr int kWarp = 32;
constexpr int kColsX = 32, kColsY = kReduceThreads / kColsX;  // cols kernel block

// Element offset of row r (the kept dims of a cpu::RowLayout, innermost first).
struct RowIndexer {
  int dims = 0;
  int64_t sizes[kMaxIndexerDims];
  int64_t strides[kMaxIndexerDims];
  FG_HOST_DEVICE int64_t offset(int64_t r) const {
    int64_t off = 0;
    for (int d = 0; d < dims; ++d) {
      const int64_t q = r / sizes[d];
      off += (r - q * sizes[d]) * strides[d];
      r = q;
    }
    return off;
  }
};

inline RowIndexer make_row_indexer(const char* op, const cpu::RowLayout& L) {
  RowIndexer ix{};
  const int nd = static_cast<int>(L.outer_sizes.size());
  FG_CHECK(nd <= kMaxIndexerDims, op, ": ", nd, " kept dims exceed the CUDA kernels' limit of ",
           kMaxIndexerDims);
  for (int d = 0; d < nd; ++d) {
    ix.sizes[ix.dims] = L.outer_sizes[nd - 1 - d];
    ix.strides[ix.dims] = L.outer_strides[nd - 1 - d];
    ++ix.dims;
  }
  return ix;
}

// Which kernel reduces a layout:
//  Cols:  the run is strided but neighbouring rows are neighbours in memory
//         (sum over dim 0): a thread per row reads coalesced across the warp,
//         kColsY threads split the run and merge through shared memory.
//  Warp:  a warp per row, lanes striding over the run (short runs).
//  Block: a block per (row, split) for long runs; with splits > 1 each block
//         writes its partial and a second kernel merges them per row, so a
//         full reduction of a large tensor still fills the device.
enum class ReduceKind { Cols, Warp, Block };
struct ReducePlan {
  ReduceKind kind;
  int64_t splits = 1;  // Block only
  int64_t chunk = 0;   // run elements per split
};

inline ReducePlan plan_reduce(const cpu::RowLayout& L) {
  const size_t no = L.outer_sizes.size();
  ReducePlan p{ReduceKind::Warp};
  if (L.stride != 1 && L.n > 1 && no > 0 && L.outer_strides[no - 1] == 1) {
    p.kind = ReduceKind::Cols;
  } else if (L.n > 1024) {
    p.kind = ReduceKind::Block;
    // Aim for ~1024 blocks in all, each with at least 16K elements.
    constexpr int64_t kMinChunk = 16384, kTargetBlocks = 1024;
    int64_t want = std::max<int64_t>(1, kTargetBlocks / std::max<int64_t>(L.rows, 1));
    p.splits = std::clamp<int64_t>(L.n / kMinChunk, 1, std::min<int64_t>(want, 65535));
  }
  p.chunk = (L.n + p.splits - 1) / p.splits;
  return p;
}

// Host model of the warp shuffle tree: lane t ends with merge(lane t, lane t
// + off) for off = 16, 8, ..., 1; lanes past the group keep their value
// (__shfl_down_sync returns the caller's own), which only lanes >= 1 read.
template <class Op, class Acc>
Acc simulate_tree(const Op& op, std::vector<Acc> a) {
  const int w = static_cast<int>(a.size());
  for (int off = w / 2; off > 0; off /= 2)
    for (int t = 0; t + off < w; ++t) a[t] = op.merge(a[t], a[t + off]);
  return a[0];
}

// A group of `threads` (a warp, or a block of warps whose leaders then merge
// as one more warp) reducing [begin, end) of a run.
template <class Op, class T>
typename Op::Acc simulate_group(const Op& op, const T* p, int64_t s, int64_t begin,
                                int64_t end, int threads) {
  using Acc = typename Op::Acc;
  std::vector<Acc> leaders;
  for (int w0 = 0; w0 < threads; w0 += kWarp) {
    std::vector<Acc> lanes;
    for (int t = w0; t < w0 + kWarp; ++t)
      lanes.push_back(math::thread_partial(op, p, s, begin, end, t, threads));
    leaders.push_back(simulate_tree(op, lanes));
  }
  if (leaders.size() == 1) return leaders[0];
  leaders.resize(kWarp, op.init());
  return simulate_tree(op, leaders);
}

// out[r] for every row of L, as plan_reduce's kernels compute it.
template <class T, class Op, class Out>
void simulate_rows(const cpu::RowLayout& L, const Op& op, Out* out) {
  const ReducePlan plan = plan_reduce(L);
  const RowIndexer ix = make_row_indexer("_reduce_sim", L);
  const T* base = static_cast<const T*>(L.src.raw_data());
  for (int64_t r = 0; r < L.rows; ++r) {
    const T* p = base + ix.offset(r);
    typename Op::Acc a = op.init();
    if (plan.kind == ReduceKind::Cols) {
      for (int y = 0; y < kColsY; ++y)  // shared-memory merge in y order
        a = op.merge(a, math::thread_partial(op, p, L.stride, 0, L.n, y, kColsY));
    } else if (plan.kind == ReduceKind::Warp) {
      a = simulate_group(op, p, L.stride, 0, L.n, kWarp);
    } else {
      for (int64_t k = 0; k < plan.splits; ++k)  // the partials kernel merges in order
        a = op.merge(a, simulate_group(op, p, L.stride, k * plan.chunk,
                                       std::min(L.n, (k + 1) * plan.chunk), kReduceThreads));
    }
    out[r] = op.finish(a, L.n);
  }
}

// One line through the scan kernel's steps: 32 elements at a time, a
// Hillis-Steele scan across the lanes (lane t merges lane t - off for off =
// 1, 2, ..., 16), then the carry of the previous 32 merged in front.
template <class T, class Op>
void simulate_scan_line(const Op& op, const T* x, int64_t xs, T* y, int64_t ys, int64_t n) {
  using Acc = typename Op::Acc;
  Acc carry = op.init();
  for (int64_t i0 = 0; i0 < n; i0 += kWarp) {
    Acc v[kWarp];
    for (int t = 0; t < kWarp; ++t) v[t] = i0 + t < n ? op.lift(x[(i0 + t) * xs]) : op.init();
    for (int off = 1; off < kWarp; off *= 2)
      for (int t = kWarp - 1; t >= off; --t) v[t] = op.merge(v[t - off], v[t]);
    for (int t = 0; t < kWarp; ++t) {
      v[t] = op.merge(carry, v[t]);
      if (i0 + t < n) y[(i0 + t) * ys] = op.finish(v[t]);
    }
    carry = v[kWarp - 1];
  }
}

}  // namespace fastgrad::cuda
