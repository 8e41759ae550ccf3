// The CUDA side of ops/launch.h: the same functors the CPU loop runs
// (math/*.h, FG_HOST_DEVICE), over the same strided layout, on the current
// stream. Included only by translation units nvcc compiles (Note [Ops
// compiled as CUDA] in ARCHITECTURE.md).
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <cstring>
#include <cstdint>
#include <limits>
#include <tuple>
#include <utility>

#include "backend/cpu/strided_loop.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/strided_indexer.h"

namespace fastgrad::cuda {

constexpr int kBlockThreads = 128;
constexpr int kPerThread = 4;  // elements per thread: enough loads in flight

template <class T>
__device__ __forceinline__ T& at(char* p, int64_t off) {
  return *reinterpret_cast<T*>(p + off);
}

// The per-element work of the strided kernel: out = f(in...) ...
// Inputs that are 0-d CPU tensors (PyTorch lets them join CUDA ops: Python
// scalars become such tensors) travel by value in `host_bits`.
template <class Out, class Ins, class F>
struct MapOp;
template <class Out, class... In, class F>
struct MapOp<Out, std::tuple<In...>, F> {
  F f;
  unsigned host_mask = 0;  // bit k: input k is in host_bits[k]
  uint64_t host_bits[sizeof...(In) > 0 ? sizeof...(In) : 1] = {};

  __device__ __forceinline__ void operator()(char* const* b, const int64_t* off) const {
    call(b, off, std::index_sequence_for<In...>{});
  }
  template <class T>
  __device__ __forceinline__ T load(int k, char* p, int64_t off) const {
    if ((host_mask >> k) & 1u) {
      T v;
      memcpy(&v, &host_bits[k], sizeof(T));
      return v;
    }
    return at<T>(p, off);
  }
  template <size_t... I>
  __device__ __forceinline__ void call(char* const* b, const int64_t* off,
                                       std::index_sequence<I...>) const {
    at<Out>(b[0], off[0]) = f(load<In>(static_cast<int>(I), b[I + 1], off[I + 1])...);
  }
};

// ... or f(e0, e1, ...) with every element by reference; null operands read a
// zeroed per-element scratch (backend/cpu/elementwise_inplace.h's contract).
template <class T, int N, class F>
struct InplaceOp {
  F f;
  __device__ __forceinline__ void operator()(char* const* b, const int64_t* off) const {
    call(b, off, std::make_index_sequence<N>{});
  }
  template <size_t... I>
  __device__ __forceinline__ void call(char* const* b, const int64_t* off,
                                       std::index_sequence<I...>) const {
    T scratch[N] = {};
    f((b[I] ? at<T>(b[I], off[I]) : scratch[I])...);
  }
};

// op(base, offsets) at every element. Linear: one coalesced dim (contiguous
// operands and broadcast scalars), offsets are index * stride.
template <bool Linear, class Index, int N, class Op>
__global__ void __launch_bounds__(kBlockThreads)
    strided_kernel(Index n, StridedIndexer<N> ix, Op op) {
  const Index start = static_cast<Index>(blockIdx.x) * (kBlockThreads * kPerThread) + threadIdx.x;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    const Index i = start + j * kBlockThreads;
    if (i >= n) return;
    int64_t off[N];
    if constexpr (Linear) {
      for (int k = 0; k < N; ++k) off[k] = static_cast<int64_t>(i) * ix.strides[0][k];
    } else {
      ix.offsets(i, off);
    }
    op(ix.base, off);
  }
}

inline unsigned grid_for(int64_t n) {
  return static_cast<unsigned>((n + kBlockThreads * kPerThread - 1) / (kBlockThreads * kPerThread));
}

// Picks the Linear/non-linear kernel and 32- or 64-bit index math, then
// launches `kernel<Linear, Index>` through `go`.
template <int N, class Go>
void launch_layout(const char* op, int64_t n, const StridedIndexer<N>& ix, const Go& go) {
  if (n == 0) return;
  const bool linear = ix.dims <= 1;
  const bool small = n <= std::numeric_limits<int32_t>::max();
  if (linear) {
    if (small) go(std::true_type{}, uint32_t{});
    else go(std::true_type{}, uint64_t{});
  } else {
    if (small) go(std::false_type{}, uint32_t{});
    else go(std::false_type{}, uint64_t{});
  }
  check_launch(op);
}

template <class Out, class... In, class F>
void cuda_kernel(const char* op, const Tensor& out,
                 const std::array<const Tensor*, sizeof...(In)>& ins, const F& f) {
  constexpr size_t N = sizeof...(In) + 1;
  MapOp<Out, std::tuple<In...>, F> map{f};
  std::array<const Tensor*, N> ops;
  ops[0] = &out;
  for (size_t k = 0; k < sizeof...(In); ++k) {
    ops[k + 1] = ins[k];
    if (ins[k]->device().is_cpu()) {  // a 0-d CPU tensor (launch() checked)
      map.host_mask |= 1u << k;
      std::memcpy(&map.host_bits[k], ins[k]->raw_data(), ins[k]->itemsize());
    }
  }
  auto ix = make_indexer(op, cpu::make_layout<N>(out.sizes(), ops));
  for (size_t k = 0; k < sizeof...(In); ++k)
    if ((map.host_mask >> k) & 1u) ix.base[k + 1] = nullptr;  // never dereferenced
  const int64_t n = out.numel();
  DeviceGuard guard(out.device().index);
  cudaStream_t s = current_stream(out.device().index);
  launch_layout<N>(op, n, ix, [&](auto linear, auto index) {
    using Index = decltype(index);
    strided_kernel<decltype(linear)::value, Index, static_cast<int>(N)>
        <<<grid_for(n), kBlockThreads, 0, s>>>(static_cast<Index>(n), ix, map);
  });
}

template <class T, size_t N, class F>
void cuda_kernel_inplace(const char* op, const Shape& shape,
                         const std::array<const Tensor*, N>& ops, const F& f) {
  std::array<const Tensor*, N> geo;  // as cpu_kernel_inplace: nulls borrow operand 0
  for (size_t k = 0; k < N; ++k) geo[k] = ops[k] ? ops[k] : ops[0];
  auto ix = make_indexer(op, cpu::make_layout<N>(shape, geo));
  for (size_t k = 0; k < N; ++k) {
    if (ops[k]) continue;
    ix.base[k] = nullptr;
    for (int d = 0; d < kMaxIndexerDims; ++d) ix.strides[d][k] = 0;
  }
  const int64_t n = numel_of(shape);
  DeviceGuard guard(ops[0]->device().index);
  cudaStream_t s = current_stream(ops[0]->device().index);
  launch_layout<static_cast<int>(N)>(op, n, ix, [&](auto linear, auto index) {
    using Index = decltype(index);
    strided_kernel<decltype(linear)::value, Index, static_cast<int>(N)>
        <<<grid_for(n), kBlockThreads, 0, s>>>(static_cast<Index>(n), ix,
                                               InplaceOp<T, static_cast<int>(N), F>{f});
  });
}

}  // namespace fastgrad::cuda
