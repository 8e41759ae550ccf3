// The CUDA side of ops/index_launch.h: index validation into element offsets
// (math::IndexToOffset, shared with the CPU loop), and the two loops every
// indexing op reduces to (backend/cpu/index_kernels.h):
//   gather:  out[i]          = src[i + off[i]]
//   scatter: dst[i + off[i]] = val[i]   (or +=, *= through atomics)
// over the same strided layouts as the elementwise kernel. Included only by
// translation units nvcc compiles.
#pragma once
#include <cuda_runtime.h>

#include <cstring>
#include <type_traits>

#include "backend/cuda/elementwise.cuh"
#include "math/index_offset.h"
#include "ops/elementwise.h"
#include "ops/factory_ops.h"

namespace fastgrad::cuda {

// ---- atomics for every dtype fastgrad computes in ------------------------------

// *p = f(*p) atomically: a compare-and-swap loop on the 4- or 8-byte word, or
// on the aligned 32-bit word holding a 1- or 2-byte value (bool, float16,
// bfloat16).
template <class T, class F>
__device__ void atomic_update(T* p, const F& f) {
  if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
    using U = std::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>;
    U* w = reinterpret_cast<U*>(p);
    U old = *w, assumed;
    do {
      assumed = old;
      T cur, next;
      memcpy(&cur, &assumed, sizeof(T));
      next = f(cur);
      U bits;
      memcpy(&bits, &next, sizeof(T));
      old = atomicCAS(w, assumed, bits);
    } while (old != assumed);
  } else {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2, "atomic_update: 1-, 2-, 4- or 8-byte types");
    using B = std::conditional_t<sizeof(T) == 1, unsigned char, unsigned short>;
    constexpr unsigned int kMask = sizeof(T) == 1 ? 0xffu : 0xffffu;
    const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
    unsigned int* w = reinterpret_cast<unsigned int*>(addr & ~uintptr_t(3));
    const unsigned shift = static_cast<unsigned>(addr & 3) * 8;  // T's alignment keeps it in w
    unsigned int old = *w, assumed;
    do {
      assumed = old;
      const B part = static_cast<B>(assumed >> shift);
      T cur, next;
      memcpy(&cur, &part, sizeof(T));
      next = f(cur);
      B nb;
      memcpy(&nb, &next, sizeof(T));
      const unsigned int repl = (assumed & ~(kMask << shift)) | (unsigned(nb) << shift);
      old = atomicCAS(w, assumed, repl);
    } while (old != assumed);
  }
}

struct AddFn {
  template <class T>
  __device__ T operator()(T a, T v) const { return static_cast<T>(a + v); }
};
struct MulFn {
  template <class T>
  __device__ T operator()(T a, T v) const { return static_cast<T>(a * v); }
};

template <class T>
__device__ __forceinline__ void atomic_add(T* p, T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                std::is_same_v<T, int32_t>) {
    atomicAdd(p, v);
  } else if constexpr (std::is_same_v<T, int64_t>) {  // two's complement: same bits
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  } else {
    atomic_update(p, [v](T a) { return AddFn{}(a, v); });
  }
}

// ---- the per-element ops of the strided kernel ---------------------------------
// Operands: gather (out, src, off), scatter (dst, off, val); offsets in elements.

template <class T>
struct GatherOp {
  __device__ __forceinline__ void operator()(char* const* b, const int64_t* off) const {
    const int64_t o = at<int64_t>(b[2], off[2]);
    at<T>(b[0], off[0]) = at<T>(b[1], off[1] + o * static_cast<int64_t>(sizeof(T)));
  }
};

enum class ScatterKind : uint8_t { Assign, Add, Multiply };

template <class T, ScatterKind K>
struct ScatterOp {
  __device__ __forceinline__ void operator()(char* const* b, const int64_t* off) const {
    const int64_t o = at<int64_t>(b[1], off[1]);
    T* d = &at<T>(b[0], off[0] + o * static_cast<int64_t>(sizeof(T)));
    const T v = at<T>(b[2], off[2]);
    if constexpr (K == ScatterKind::Assign) *d = v;  // duplicates: one write wins
    else if constexpr (K == ScatterKind::Add) atomic_add(d, v);
    else atomic_update(d, [v](T a) { return MulFn{}(a, v); });
  }
};

// Runs a 3-operand op over `shape` on the operands' device.
template <class Op>
void launch_indexing(const char* op, const Shape& shape, const std::array<const Tensor*, 3>& ops,
                     const Op& f) {
  auto ix = make_indexer(op, cpu::make_layout<3>(shape, ops));
  const int64_t n = numel_of(shape);
  const int dev = ops[0]->device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = current_stream(dev);
  launch_layout<3>(op, n, ix, [&](auto linear, auto index) {
    using Index = decltype(index);
    strided_kernel<decltype(linear)::value, Index, 3>
        <<<grid_for(n), kBlockThreads, 0, s>>>(static_cast<Index>(n), ix, f);
  });
}

template <class T>
void gather_offsets_cuda(const char* op, const Tensor& out, const Tensor& src,
                         const Tensor& off) {
  launch_indexing(op, out.sizes(), {&out, &src, &off}, GatherOp<T>{});
}

template <class T, ScatterKind K>
void scatter_offsets_cuda(const char* op, const Shape& shape, const Tensor& dst,
                          const Tensor& off, const Tensor& val) {
  launch_indexing(op, shape, {&dst, &off, &val}, ScatterOp<T, K>{});
}

// ---- index validation -----------------------------------------------------------

// out[i] = f(in[i]); an index out of range sets bad[0] and leaves its value
// in bad[1] (any one of them, when several are).
template <class In>
__global__ void index_offsets_kernel(const In* in, int64_t* out, int64_t n,
                                     math::IndexToOffset f, int64_t* bad) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = static_cast<int64_t>(in[i]);
    if (!f(v, out[i])) {
      bad[1] = v;
      __threadfence();
      bad[0] = 1;
    }
  }
}

// Offsets of the contiguous index tensor `idx` (int32/int64) into `out`
// (contiguous int64, same device). Reads one flag back (a synchronisation,
// as PyTorch's device-side assert is not an exception): returns false with
// the bad index in `bad_value`.
template <class In>
bool index_offsets_cuda(const char* op, const Tensor& idx, const Tensor& out,
                        const math::IndexToOffset& f, int64_t& bad_value) {
  const int64_t n = idx.numel();
  if (n == 0) return true;
  Tensor bad = zeros({2}, DType::Int64, idx.device());
  {
    DeviceGuard guard(idx.device().index);
    const unsigned blocks = static_cast<unsigned>(
        std::min<int64_t>((n + kBlockThreads - 1) / kBlockThreads, 65535));
    index_offsets_kernel<In><<<blocks, kBlockThreads, 0, current_stream(idx.device().index)>>>(
        idx.data<In>(), out.data<int64_t>(), n, f, bad.data<int64_t>());
    check_launch(op);
  }
  Tensor host = to_device(bad, Device{});
  bad_value = host.data<int64_t>()[1];
  return host.data<int64_t>()[0] == 0;
}

}  // namespace fastgrad::cuda
