// where(cond, a, b), clamp(x, min, max) and the in-place fills.
#include "math/binary.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"

namespace fastgrad {

// ---- where ---------------------------------------------------------------------
namespace {
Tensor where_impl(const Tensor& cond, const Tensor& a, const Tensor& b, DType rt) {
  FG_CHECK_TYPE(cond.dtype() == DType::Bool,
                "where: expected condition to be a bool tensor, got ", cond.dtype());
  if (is_16bit_float(rt))  // Note [16-bit floats]
    return to_dtype(where_impl(cond, as_float32(a), as_float32(b), DType::Float32), rt);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"),
                                 b.sizes(), "where");
  Tensor ai = to_dtype(a, rt), bi = to_dtype(b, rt);
  Tensor out = empty(shape, rt, cond.device());
  dispatch(rt, [&](auto tag) {
    using T = decltype(tag);
    launch<T, bool, T, T>("where", out, {&cond, &ai, &bi}, math::WhereFn{});
  });
  maybe_record("WhereBackward", {cond, a, b}, {out}, {cond},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor c = n.saved(0);
                 return {Tensor(), where(c, gs[0], 0.0), where(c, 0.0, gs[0])};
               });
  return out;
}
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return where_impl(cond, a, b, result_type(a, b));
}
Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b) {
  DType rt = result_type(a, b);
  return where_impl(cond, a, scalar_tensor(b, rt), rt);
}
Tensor where(const Tensor& cond, const Scalar& a, const Tensor& b) {
  DType rt = result_type(b, a);
  return where_impl(cond, scalar_tensor(a, rt), b, rt);
}
Tensor where(const Tensor& cond, const Scalar& a, const Scalar& b) {
  // Two Python scalars: the result has the scalars' promoted default dtype.
  DType rt = result_type(scalar_tensor(a, a.dtype()), b);
  return where_impl(cond, scalar_tensor(a, rt), scalar_tensor(b, rt), rt);
}

// ---- clamp ----------------------------------------------------------------------
namespace {
DType clamp_type(const Tensor& x, const std::optional<Scalar>& lo,
                 const std::optional<Scalar>& hi) {
  FG_CHECK_VALUE(lo || hi, "clamp: at least one of 'min' or 'max' must not be None");
  // Bounds are Python scalars: they only promote across categories
  // (an int tensor clamped to 0.5 becomes float).
  DType rt = x.dtype();
  for (const auto& s : {lo, hi})
    if (s && category(s->dtype()) > category(rt)) rt = promote_types(rt, s->dtype());
  return rt;
}
}  // namespace

Tensor clamp(const Tensor& x, const std::optional<Scalar>& lo,
             const std::optional<Scalar>& hi) {
  FG_CHECK_TYPE(x.dtype() != DType::Bool, "clamp: not supported for bool tensors");
  DType rt = clamp_type(x, lo, hi);
  if (is_16bit_float(rt))  // Note [16-bit floats]
    return to_dtype(clamp(as_float32(x), lo, hi), rt);
  return dispatch_numeric(rt, "clamp", [&](auto tag) {
    using T = decltype(tag);
    math::ClampFn<T> fn{lo ? lo->to<T>() : T(0), hi ? hi->to<T>() : T(0),
                        lo.has_value(), hi.has_value()};
    Tensor xi = to_dtype(x, rt);
    Tensor out = empty(x.sizes(), rt, x.device());
    launch<T, T>("clamp", out, {&xi}, fn);
    // The gradient passes where x lies within the bounds (PyTorch's rule).
    maybe_record("ClampBackward", {x}, {out}, {x},
                 [lo, hi](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   Tensor x = n.saved(0);
                   Tensor g = gs[0];
                   if (lo) g = where(ge(x, *lo), g, 0.0);
                   if (hi) g = where(le(x, *hi), g, 0.0);
                   return {g};
                 });
    return out;
  });
}

Tensor clamp(const Tensor& x, const std::optional<Tensor>& lo,
             const std::optional<Tensor>& hi) {
  FG_CHECK_VALUE(lo || hi, "clamp: at least one of 'min' or 'max' must not be None");
  Tensor out = x;
  // maximum/minimum carry the promotion and broadcasting; NaN in the bound
  // propagates as in PyTorch.
  if (lo) out = maximum(out, *lo);
  if (hi) out = minimum(out, *hi);
  return out.is_same(x) ? clone(x) : out;
}

const Tensor& clamp_(const Tensor& x, const std::optional<Scalar>& lo,
                     const std::optional<Scalar>& hi) {
  if (autograd::needs_grad({&x}))
    return inplace_with_grad("clamp_", x, [&](const Tensor& s) { return clamp(s, lo, hi); });
  Tensor r = clamp(x, lo, hi);
  check_inplace_cast("clamp_", r.dtype(), x.dtype());
  check_writable("clamp_", x);
  copy_(x, r, "clamp_");
  return x;
}

// ---- fills ----------------------------------------------------------------------
const Tensor& fill_(const Tensor& self, const Scalar& value) {
  check_writable("fill_", self);
  if (autograd::needs_grad({&self}))  // the old value's gradient is zero
    return inplace_with_grad("fill_", self, [&](const Tensor& s) { return add(mul(s, 0), value); });
  copy_(self, scalar_tensor(value, self.dtype()), "fill_");
  return self;
}
const Tensor& zero_(const Tensor& self) { return fill_(self, Scalar(int64_t{0})); }

}  // namespace fastgrad
