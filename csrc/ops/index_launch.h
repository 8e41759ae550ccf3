// Backend selection for the offset-indexing kernels (see
// backend/cpu/index_kernels.h), plus the view helpers the indexing ops share.
// Internal to csrc/ops/index_*.cpp.
#pragma once
#include <string>

#include "backend/cpu/index_kernels.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/index_ops.h"

namespace fastgrad {

enum class ScatterMode : uint8_t { Assign, Add, Multiply };

// out[i] = src[i + off[i]]: out has the iteration shape; src and off are views
// that broadcast to it. src's dtype is out's dtype.
inline void gather_offsets(const char* op, const Tensor& out, const Tensor& src,
                           const Tensor& off) {
  FG_CHECK(src.device() == out.device() && off.device() == out.device(), op,
           ": expected all tensors on the same device");
  FG_CHECK(out.device().is_cpu(), op, ": no kernel for device ", out.device());
  dispatch(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::gather_offsets_cpu<T>(out, src, off);
  });
}

// dst[i + off[i]] (=, +=, *=) val[i] over `shape`; val already has dst's dtype.
inline void scatter_offsets(const char* op, const Shape& shape, const Tensor& dst,
                            const Tensor& off, const Tensor& val, ScatterMode mode) {
  FG_CHECK(val.device() == dst.device() && off.device() == dst.device(), op,
           ": expected all tensors on the same device");
  FG_CHECK(dst.device().is_cpu(), op, ": no kernel for device ", dst.device());
  dispatch(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
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

}  // namespace fastgrad
