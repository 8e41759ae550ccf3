// The CUDA reduction and line kernels: any combiner of math/reduce.h over the
// rows of a cpu::RowLayout (plan_reduce in reduce_plan.h picks the shape; its
// host simulation is what the CPU tests check), plus the line kernels of
// scans and softmax. Included only by translation units nvcc compiles (Note
// [Ops compiled as CUDA]); everything runs on the current stream, scratch
// comes from the caching allocator.
#pragma once
#include <cuda_runtime.h>

#include <cstring>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/reduce_plan.h"
#include "backend/cuda/runtime.h"

namespace fastgrad::cuda {

// Accumulators are plain aggregates of any size: shuffled as 32-bit words.
template <class Acc, class Shfl>
__device__ __forceinline__ Acc shfl_acc(const Acc& a, const Shfl& shfl) {
  constexpr int kWords = (sizeof(Acc) + 3) / 4;
  uint32_t w[kWords] = {};
  memcpy(w, &a, sizeof(Acc));
#pragma unroll
  for (int k = 0; k < kWords; ++k) w[k] = shfl(w[k]);
  Acc r;
  memcpy(&r, w, sizeof(Acc));
  return r;
}
template <class Acc>
__device__ __forceinline__ Acc shfl_down_acc(const Acc& a, unsigned off) {
  return shfl_acc(a, [off](uint32_t w) { return __shfl_down_sync(0xffffffffu, w, off); });
}

// The warp tree of simulate_tree: lane 0 ends with the warp's merge.
template <class Op, class Acc>
__device__ __forceinline__ Acc warp_reduce(const Op& op, Acc a) {
#pragma unroll
  for (unsigned off = kWarp / 2; off > 0; off /= 2) a = op.merge(a, shfl_down_acc(a, off));
  return a;
}

// Shared memory for one Acc per slot without running constructors.
template <class Acc, int Slots>
struct AccSlots {
  alignas(16) char bytes[sizeof(Acc) * Slots];
  __device__ Acc* get() { return reinterpret_cast<Acc*>(bytes); }
};

// A group of Threads (32: one warp; kReduceThreads: the block) reduces; the
// result is valid in the group's thread 0. Block groups sync: every thread of
// the block must call it.
template <int Threads, class Op, class Acc>
__device__ __forceinline__ Acc group_reduce(const Op& op, Acc a, Acc* smem) {
  a = warp_reduce(op, a);
  if constexpr (Threads > kWarp) {
    constexpr int kWarps = Threads / kWarp;
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    if (lane == 0) smem[warp] = a;
    __syncthreads();
    if (warp == 0) a = warp_reduce(op, lane < kWarps ? smem[lane] : op.init());
    __syncthreads();  // smem is reused by the next row
  }
  return a;
}

// Warp (Threads = 32) or block (kReduceThreads) per (row, split). With a
// partial buffer each (row, split) writes its Acc there instead of finishing.
template <int Threads, class Op, class T, class Out>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_lines_kernel(RowIndexer ix, const T* base, int64_t rows, int64_t n, int64_t s,
                        int64_t chunk, Op op, Out* out, typename Op::Acc* partial) {
  using Acc = typename Op::Acc;
  constexpr int kGroups = kReduceThreads / Threads;
  __shared__ AccSlots<Acc, kReduceThreads / kWarp> smem;
  const int t = threadIdx.x % Threads, g = threadIdx.x / Threads;
  const int64_t split = blockIdx.y, begin = split * chunk;
  const int64_t end = begin + chunk < n ? begin + chunk : n;
  // Rows step by whole blocks, so a block-wide group never splits on `r`.
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * kGroups; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * kGroups) {
    const int64_t r = r0 + g;
    Acc a = op.init();
    if (r < rows) a = math::thread_partial(op, base + ix.offset(r), s, begin, end, t, Threads);
    a = group_reduce<Threads>(op, a, smem.get());
    if (t == 0 && r < rows) {
      if (partial) partial[r * gridDim.y + split] = a;
      else out[r] = op.finish(a, n);
    }
  }
}

template <class Op, class Out>
__global__ void reduce_partials_kernel(int64_t rows, int64_t splits, int64_t n, Op op,
                                       const typename Op::Acc* partial, Out* out) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    typename Op::Acc a = op.init();
    for (int64_t k = 0; k < splits; ++k) a = op.merge(a, partial[r * splits + k]);
    out[r] = op.finish(a, n);
  }
}

// kColsX adjacent rows per block (coalesced loads across x), the run split
// over kColsY threads in y and merged in y order through shared memory.
template <class Op, class T, class Out>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_cols_kernel(RowIndexer ix, const T* base, int64_t rows, int64_t n, int64_t s,
                       Op op, Out* out) {
  using Acc = typename Op::Acc;
  __shared__ AccSlots<Acc, kReduceThreads> smem;
  Acc* buf = smem.get();
  const int x = threadIdx.x, y = threadIdx.y;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * kColsX; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * kColsX) {
    const int64_t r = r0 + x;
    Acc a = op.init();
    if (r < rows) a = math::thread_partial(op, base + ix.offset(r), s, 0, n, y, kColsY);
    buf[y * kColsX + x] = a;
    __syncthreads();
    if (y == 0 && r < rows) {
      for (int k = 1; k < kColsY; ++k) a = op.merge(a, buf[k * kColsX + x]);
      out[r] = op.finish(a, n);
    }
    __syncthreads();
  }
}

inline unsigned capped_grid(int64_t blocks) {
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, 65535));
}

// out[r] = op over row r of L (L.src on `device`, out contiguous there).
template <class T, class Op, class Out>
void reduce_rows(const char* name, const cpu::RowLayout& L, const Op& op, Out* out,
                 int device) {
  using Acc = typename Op::Acc;
  if (L.rows == 0) return;
  const RowIndexer ix = make_row_indexer(name, L);
  const T* base = static_cast<const T*>(L.src.raw_data());
  const ReducePlan plan = plan_reduce(L);
  DeviceGuard guard(device);
  cudaStream_t st = current_stream(device);
  switch (plan.kind) {
    case ReduceKind::Cols:
      reduce_cols_kernel<<<capped_grid((L.rows + kColsX - 1) / kColsX), dim3(kColsX, kColsY),
                           0, st>>>(ix, base, L.rows, L.n, L.stride, op, out);
      break;
    case ReduceKind::Warp:
      reduce_lines_kernel<kWarp><<<capped_grid((L.rows + 7) / 8), kReduceThreads, 0, st>>>(
          ix, base, L.rows, L.n, L.stride, L.n, op, out, static_cast<Acc*>(nullptr));
      break;
    case ReduceKind::Block: {
      const dim3 grid(capped_grid(L.rows), static_cast<unsigned>(plan.splits));
      if (plan.splits == 1) {
        reduce_lines_kernel<kReduceThreads><<<grid, kReduceThreads, 0, st>>>(
            ix, base, L.rows, L.n, L.stride, plan.chunk, op, out, static_cast<Acc*>(nullptr));
        break;
      }
      // Freed right after the launches: the allocator reuses it in stream order.
      Storage scratch = cuda_allocate(L.rows * plan.splits * static_cast<int64_t>(sizeof(Acc)),
                                      device);
      Acc* partial = static_cast<Acc*>(scratch->data());
      reduce_lines_kernel<kReduceThreads><<<grid, kReduceThreads, 0, st>>>(
          ix, base, L.rows, L.n, L.stride, plan.chunk, op, out, partial);
      check_launch(name);
      reduce_partials_kernel<<<capped_grid((L.rows + 255) / 256), 256, 0, st>>>(
          L.rows, plan.splits, L.n, op, partial, out);
      break;
    }
  }
  check_launch(name);
}

// ---- lines (scans, softmax) -------------------------------------------------------
// A warp per line (lines of a cpu::make_line_layout: every line one run).

// f(r, lane) for each of the `rows` lines this thread's warp owns (grid-stride
// over the warps of kReduceThreads-thread blocks).
template <class F>
__device__ __forceinline__ void for_each_warp_line(int64_t rows, const F& f) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (kReduceThreads / kWarp);
  for (int64_t r = blockIdx.x * int64_t{kReduceThreads / kWarp} + threadIdx.x / kWarp;
       r < rows; r += warps)
    f(r, lane);
}

// Inclusive scan: 32 elements per step, a shuffle-up scan within the warp,
// then the running carry from lane 31.
template <class Op, class T>
__global__ void __launch_bounds__(kReduceThreads)
    scan_lines_kernel(RowIndexer ix_in, RowIndexer ix_out, const T* x, T* y, int64_t rows,
                      int64_t n, int64_t xs, int64_t ys, Op op) {
  using Acc = typename Op::Acc;
  for_each_warp_line(rows, [&](int64_t r, int lane) {
    const T* p = x + ix_in.offset(r);
    T* q = y + ix_out.offset(r);
    Acc carry = op.init();
    for (int64_t i0 = 0; i0 < n; i0 += kWarp) {
      const int64_t i = i0 + lane;
      Acc v = i < n ? op.lift(p[i * xs]) : op.init();
#pragma unroll
      for (int off = 1; off < kWarp; off *= 2) {
        Acc u = shfl_acc(v, [off](uint32_t w) { return __shfl_up_sync(0xffffffffu, w, off); });
        if (lane >= off) v = op.merge(u, v);
      }
      v = op.merge(carry, v);
      if (i < n) q[i * ys] = op.finish(v);
      carry = shfl_acc(v, [](uint32_t w) { return __shfl_sync(0xffffffffu, w, kWarp - 1); });
    }
  });
}

struct MaxOp {  // NaN-propagating max in double, for softmax's shift
  using Acc = double;
  __device__ Acc init() const { return -INFINITY; }
  __device__ Acc merge(Acc a, Acc b) const { return a != a ? a : b != b ? b : a > b ? a : b; }
};
struct AddOp {
  using Acc = double;
  __device__ Acc init() const { return 0.0; }
  __device__ Acc merge(Acc a, Acc b) const { return a + b; }
};

// softmax / log_softmax of each line: max, sum of exp(x - max) in double,
// then the scaled write (three passes over a line that stays in L1/L2).
// A fully -inf line gives NaN, as on the CPU.
template <bool Log, class T>
__global__ void __launch_bounds__(kReduceThreads)
    softmax_lines_kernel(RowIndexer ix_in, RowIndexer ix_out, const T* x, T* y, int64_t rows,
                         int64_t n, int64_t xs, int64_t ys) {
  for_each_warp_line(rows, [&](int64_t r, int lane) {
    const T* p = x + ix_in.offset(r);
    T* q = y + ix_out.offset(r);
    double m = MaxOp{}.init();
    for (int64_t i = lane; i < n; i += kWarp) m = MaxOp{}.merge(m, static_cast<double>(p[i * xs]));
    m = __shfl_sync(0xffffffffu, warp_reduce(MaxOp{}, m), 0);
    const T mt = static_cast<T>(m);
    double sum = 0;
    for (int64_t i = lane; i < n; i += kWarp) sum += std::exp(static_cast<double>(p[i * xs] - mt));
    sum = __shfl_sync(0xffffffffu, warp_reduce(AddOp{}, sum), 0);
    if constexpr (Log) {
      const T log_sum = static_cast<T>(std::log(sum));
      for (int64_t i = lane; i < n; i += kWarp) q[i * ys] = (p[i * xs] - mt) - log_sum;
    } else {
      const T inv = static_cast<T>(1.0 / sum);
      for (int64_t i = lane; i < n; i += kWarp) q[i * ys] = static_cast<T>(std::exp(p[i * xs] - mt)) * inv;
    }
  });
}

inline unsigned line_grid(int64_t rows) {
  return capped_grid((rows + kReduceThreads / kWarp - 1) / (kReduceThreads / kWarp));
}

template <class T, class Op>
void scan_lines(const char* name, const cpu::RowLayout& in, const cpu::RowLayout& out,
                const Op& op, int device) {
  if (in.rows == 0 || in.n == 0) return;
  DeviceGuard guard(device);
  scan_lines_kernel<<<line_grid(in.rows), kReduceThreads, 0, current_stream(device)>>>(
      make_row_indexer(name, in), make_row_indexer(name, out),
      static_cast<const T*>(in.src.raw_data()), static_cast<T*>(out.src.raw_data()), in.rows,
      in.n, in.stride, out.stride, op);
  check_launch(name);
}

template <bool Log, class T>
void softmax_lines(const char* name, const cpu::RowLayout& in, const cpu::RowLayout& out,
                   int device) {
  if (in.rows == 0 || in.n == 0) return;
  DeviceGuard guard(device);
  softmax_lines_kernel<Log><<<line_grid(in.rows), kReduceThreads, 0, current_stream(device)>>>(
      make_row_indexer(name, in), make_row_indexer(name, out),
      static_cast<const T*>(in.src.raw_data()), static_cast<T*>(out.src.raw_data()), in.rows,
      in.n, in.stride, out.stride);
  check_launch(name);
}

}  // namespace fastgrad::cuda
