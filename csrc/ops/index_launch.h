// Backend selection for the offset-indexing kernels (see
// backend/cpu/index_kernels.h), plus the view helpers the indexing ops share.
// Internal to csrc/ops/index_*.cpp.
#pragma once
#include <string>

#include "backend/cpu/index_kernels.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/grad_utils.h"
#include "ops/index_ops.h"
#if defined(__CUDACC__)
#include "backend/cuda/index.cuh"
#endif

namespace fastgrad {

enum class ScatterMode : uint8_t { Assign, Add, Multiply };

inline void check_devices(const char* op, const Tensor& a, const Tensor& b, const Tensor& c) {
  for (const Tensor* t : {&b, &c})
    FG_CHECK(t->device() == a.device(), op, ": expected all tensors on the same device, got ",
             a.device(), " and ", t->device());
}

// Raised where a CUDA branch exists only when nvcc compiles the caller.
[[noreturn]] inline void no_kernel(const char* op, Device dev) {
  fail<NotImplementedError>(op, ": no kernel for device ", dev);
}

// out[i] = src[i + off[i]]: out has the iteration shape; src and off are views
// that broadcast to it. src's dtype is out's dtype (any: a copy).
inline void gather_offsets(const char* op, const Tensor& out, const Tensor& src,
                           const Tensor& off) {
  check_devices(op, out, src, off);
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (out.device().is_cpu()) return cpu::gather_offsets_cpu<T>(out, src, off);
#if defined(__CUDACC__)
    cuda::gather_offsets_cuda<T>(op, out, src, off);
#else
    no_kernel(op, out.device());
#endif
  });
}

// dst[i + off[i]] (=, +=, *=) val[i] over `shape`; val already has dst's dtype.
// On CUDA += and *= are atomic (any order: float sums may differ in the last
// bits between runs, as in PyTorch) and with duplicate indices one = wins.
inline void scatter_offsets(const char* op, const Shape& shape, const Tensor& dst,
                            const Tensor& off, const Tensor& val, ScatterMode mode) {
  check_devices(op, dst, off, val);
  // Any dtype: 16-bit floats add and multiply through float, rounding each
  // update to 16 bits (as PyTorch's index_put_/scatter_add_ do).
  dispatch_all(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (!dst.device().is_cpu()) {
#if defined(__CUDACC__)
      using K = cuda::ScatterKind;
      switch (mode) {
        case ScatterMode::Assign:
          return cuda::scatter_offsets_cuda<T, K::Assign>(op, shape, dst, off, val);
        case ScatterMode::Add:
          return cuda::scatter_offsets_cuda<T, K::Add>(op, shape, dst, off, val);
        case ScatterMode::Multiply:
          return cuda::scatter_offsets_cuda<T, K::Multiply>(op, shape, dst, off, val);
      }
#else
      no_kernel(op, dst.device());
#endif
    }
    switch (mode) {
      case ScatterMode::Assign:
        return cpu::scatter_offsets_cpu<T>(shape, dst, off, val, [](T, T v) { return v; });
      case ScatterMode::Add:
        return cpu::scatter_offsets_cpu<T>(shape, dst, off, val,
                                           [](T a, T v) { return static_cast<T>(a + v); });
      case ScatterMode::Multiply:
        return cpu::scatter_offsets_cpu<T>(shape, dst, off, val,
                                           [](T a, T v) { return static_cast<T>(a * v); });
    }
  });
}

// check_writable, except that an empty tensor (whose numpy-given strides may
// be 0) is always writable: there is nothing to write.
inline void check_writable_nonempty(const char* op, const Tensor& t) {
  if (t.numel() > 0) check_writable(op, t);
}

// `t` with new sizes/strides at its own offset.
inline Tensor restride(const Tensor& t, Shape sizes, Shape strides) {
  return make_view(t, std::move(sizes), std::move(strides), t.offset());
}
// 0-d tensors act as 1-element vectors in the one-dim ops (PyTorch's rule).
inline Tensor as_1d(const Tensor& t) {
  return t.dim() == 0 ? restride(t, {1}, {1}) : t;
}

// Zeros of `sizes` with g written through the view that the tensor-free index
// `basic` selects (index_basic.cpp): the backward of a basic-indexing view,
// itself differentiable (its backward re-applies the view).
Tensor view_scatter(const Tensor& g, const Shape& sizes, const std::vector<TensorIndex>& basic);
// The value held by a 0-d tensor (fill values given as tensors); `op` names errors.
Scalar item_scalar(const char* op, const Tensor& v);

// ---- index tensors in backward rules ------------------------------------------
// Rules may not capture tensors, so index tensors travel through the saved list:
// `present` (captured) says which entries of an Indices list were defined.
inline std::vector<Tensor> defined_indices(const Indices& ix, std::vector<bool>& present) {
  std::vector<Tensor> out;
  for (const auto& t : ix) {
    present.push_back(t.has_value() && t->defined());
    if (present.back()) out.push_back(*t);
  }
  return out;
}
inline Indices restore_indices(const FunctionNode& n, size_t first,
                               const std::vector<bool>& present) {
  Indices ix;
  for (bool p : present) {
    if (p) ix.emplace_back(n.saved(first++));
    else ix.emplace_back();
  }
  return ix;
}
// The same for a parsed Python index: tensors move out of `idx` (leaving
// Kind::Tensor entries empty) and are put back from the saved list.
inline std::vector<Tensor> take_index_tensors(std::vector<TensorIndex>& idx) {
  std::vector<Tensor> out;
  for (auto& ix : idx)
    if (ix.kind == TensorIndex::Kind::Tensor) out.push_back(std::move(ix.tensor)), ix.tensor = Tensor();
  return out;
}
inline std::vector<TensorIndex> restore_index_tensors(std::vector<TensorIndex> idx,
                                                      const FunctionNode& n, size_t first) {
  for (auto& ix : idx)
    if (ix.kind == TensorIndex::Kind::Tensor) ix.tensor = n.saved(first++);
  return idx;
}

}  // namespace fastgrad
