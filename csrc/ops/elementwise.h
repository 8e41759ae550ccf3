// Op-level helpers for elementwise ops: type promotion, broadcasting, output
// allocation and in-place writes. Each helper takes the op's name for errors.
#pragma once
#include "autograd/grad_mode.h"
#include "core/scalar.h"
#include "math/unary.h"
#include "ops/launch.h"

namespace fastgrad {

// ---- promotion (PyTorch's result_type) -------------------------------------
// Dimensioned tensors outrank 0-d tensors, which outrank Python scalars; a
// lower tier only changes the dtype when its category is higher.
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, const Scalar& b);

// ---- conversions (ops/copy.cpp) ---------------------------------------------
Tensor to_dtype(const Tensor& x, DType dtype);   // x itself if already dtype
Tensor contiguous(const Tensor& x);              // x itself if contiguous
Tensor to_device(const Tensor& x, Device device);  // x itself if already there
Tensor clone(const Tensor& x);
Tensor scalar_tensor(const Scalar& s, DType dtype);
// dst[...] = src (broadcast to dst, any dtypes); bumps dst's version,
// recording `op` as the in-place op for autograd's saved-tensor error.
void copy_(const Tensor& dst, const Tensor& src, const char* op = "copy_");
// Tensor.copy_ as users call it: differentiable w.r.t. src (and dst's history).
const Tensor& copy_autograd(const Tensor& dst, const Tensor& src);
// Checks `t` may be written element-wise (no two elements share memory).
void check_writable(const char* op, const Tensor& t);

// ---- kernels by kind ---------------------------------------------------------
// Note [16-bit floats]: ops on float16/bfloat16 tensors compute in float32
// and round the result once (PyTorch's "opmath"), on every device: the
// helpers below, and each op that takes 16-bit inputs, run their float32 path
// between two casts. No kernel is instantiated for the 16-bit types, so the
// build's size stays flat; dispatch() raises a TypeError naming an op that
// lacks the detour.
inline bool is_16bit_float(DType t) { return t == DType::Float16 || t == DType::BFloat16; }
// At an op's entry: a 16-bit tensor as float32, recorded so that its gradient
// comes back in 16 bits; any other (or undefined) tensor as it is. The op then
// runs on the float32 values and rounds its result back with to_dtype.
inline Tensor as_float32(const Tensor& t) {
  return t.defined() && is_16bit_float(t.dtype()) ? to_dtype(t, DType::Float32) : t;
}
// The "floating input" check of ops that detour 16-bit inputs at their entry.
inline void check_floating(const char* op, DType t) {
  if (!is_16bit_float(t)) dispatch_float(t, op, [](auto) {});
}
// A float32 result back to the 16-bit `compute` dtype (bool results, e.g. of
// comparisons, stay as they are). Unrecorded: the calling op records itself.
inline Tensor from_float32(const Tensor& out, DType compute) {
  autograd::GradModeGuard no_grad(false);
  return out.dtype() == DType::Float32 ? to_dtype(out, compute) : out;
}

// out = f(x) computed in dtype `compute`; the output dtype is what f returns.
template <class Fn, class Dispatch>
Tensor map_unary(const char* op, const Tensor& x, DType compute, const Fn& fn,
                 Dispatch dispatcher) {
  if (is_16bit_float(compute)) {
    autograd::GradModeGuard no_grad(false);
    return from_float32(map_unary(op, x, DType::Float32, fn, dispatcher), compute);
  }
  Tensor xi = to_dtype(x, compute);
  return dispatcher(compute, [&](auto tag) {
    using T = decltype(tag);
    using R = decltype(fn(T{}));
    Tensor out = empty(x.sizes(), dtype_of<R>::value, x.device());
    launch<R, T>(op, out, {&xi}, fn);
    return out;
  });
}

// Float-valued math (sin, exp, ...): integer and bool inputs go to float32.
template <class Fn>
Tensor unary_float(const char* op, const Tensor& x, Fn fn = {}) {
  return map_unary(op, x, to_float_dtype(x.dtype()), fn,
                   [op](DType t, auto f) { return dispatch_float(t, op, f); });
}
// Same-dtype math over every dtype (abs, sign, floor, ...).
template <class Fn>
Tensor unary_any(const char* op, const Tensor& x, Fn fn = {}) {
  return map_unary(op, x, x.dtype(), fn, [op](DType t, auto f) { return dispatch(t, f, op); });
}

// out = f(a, b) over the broadcast shape, inputs converted to `compute`.
template <class Fn, class Dispatch>
Tensor map_binary(const char* op, const Tensor& a, const Tensor& b, DType compute,
                  const Fn& fn, Dispatch dispatcher) {
  if (is_16bit_float(compute)) {
    autograd::GradModeGuard no_grad(false);
    return from_float32(map_binary(op, a, b, DType::Float32, fn, dispatcher), compute);
  }
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), op);
  Tensor ai = to_dtype(a, compute), bi = to_dtype(b, compute);
  return dispatcher(compute, [&](auto tag) {
    using T = decltype(tag);
    using R = decltype(fn(T{}, T{}));
    Tensor out = empty(shape, dtype_of<R>::value, a.device());
    launch<R, T, T>(op, out, {&ai, &bi}, fn);
    return out;
  });
}
template <class Fn>
Tensor binary_any(const char* op, const Tensor& a, const Tensor& b, DType compute, Fn fn = {}) {
  return map_binary(op, a, b, compute, fn, [op](DType t, auto f) { return dispatch(t, f, op); });
}

// In place: self = f(self, other); the computed dtype must cast to self's
// (PyTorch: "result type Float can't be cast to the desired output type Long").
void check_inplace_cast(const char* op, DType result, DType self);
template <class Fn>
const Tensor& binary_inplace(const char* op, const Tensor& self, const Tensor& other,
                             DType compute, Fn fn = {}) {
  check_inplace_cast(op, compute, self.dtype());
  Shape shape = broadcast_shapes(self.sizes(), other.sizes(), op);
  FG_CHECK(shape == self.sizes(), op, ": output with shape ", shape_str(self.sizes()),
           " doesn't match the broadcast shape ", shape_str(shape));
  check_writable(op, self);
  // An input overlapping self with another layout must be read before writing.
  Tensor o = other.storage() == self.storage() && !other.is_same(self) ? clone(other) : other;
  if (compute == self.dtype() && !is_16bit_float(compute)) {
    Tensor oi = to_dtype(o, compute);
    dispatch(compute, [&](auto tag) {
      using T = decltype(tag);
      launch<T, T, T>(op, self, {&self, &oi}, math::CastResultFn<T, Fn>{fn});
    }, op);
  } else {
    copy_(self, binary_any(op, self, o, compute, fn), op);
  }
  self.bump_version(op);
  return self;
}

}  // namespace fastgrad
