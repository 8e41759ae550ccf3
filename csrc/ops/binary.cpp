// Binary elementwise ops: PyTorch's per-op dtype rules, then one functor from
// math/binary.h. Each op is one `rule` below; the tensor/scalar overloads and
// in-place forms are generated from it.
#include <cstring>

#include "math/binary.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"

namespace fastgrad {

namespace {

// Raises if an integer divisor holds a zero (the kernels would otherwise have
// to invent a value; PyTorch raises ZeroDivisionError).
void check_int_divisor(const char* op, const Tensor& b, DType compute) {
  if (!is_integral(compute)) return;
  Tensor bi = contiguous(to_dtype(b, compute));
  bool zero = dispatch(compute, [&](auto tag) {
    using T = decltype(tag);
    const T* p = bi.data<T>();
    for (int64_t i = 0, n = bi.numel(); i < n; ++i)
      if (p[i] == T(0)) return true;
    return false;
  });
  FG_CHECK(!zero, op, ": ZeroDivisionError (integer division by zero)");
}

void check_not_bool(const char* op, DType rt) {
  if (rt == DType::Bool) fail<NotImplementedError>(op, ": not implemented for 'Bool'");
}

void check_bitwise(const char* op, DType compute) {
  FG_CHECK_TYPE(!is_floating(compute), op,
                ": only integral and bool tensors are supported, got ", compute);
}

// Each rule maps (a, b, promoted dtype) to the result; both operands may be
// 0-d tensors standing for Python scalars.
#define FG_RULE(name) Tensor name##_rule(const Tensor& a, const Tensor& b, DType rt)

FG_RULE(sub) {
  FG_CHECK(rt != DType::Bool, "sub: subtraction, the `-` operator, with two bool "
           "tensors is not supported. Use the `^` or `logical_xor()` operator instead.");
  FG_CHECK(a.dtype() != DType::Bool && b.dtype() != DType::Bool,
           "sub: subtraction, the `-` operator, with a bool tensor is not supported. "
           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.");
  return binary_any("sub", a, b, rt, math::SubFn{});
}
FG_RULE(mul) { return binary_any("mul", a, b, rt, math::MulFn{}); }
FG_RULE(div) {
  return map_binary("div", a, b, to_float_dtype(rt), math::DivFn{},
                    [](DType t, auto f) { return dispatch_float(t, "div", f); });
}
FG_RULE(floor_divide) {
  check_not_bool("floor_divide", rt);
  check_int_divisor("floor_divide", b, rt);
  return binary_any("floor_divide", a, b, rt, math::FloorDivFn{});
}
FG_RULE(remainder) {
  check_not_bool("remainder", rt);
  check_int_divisor("remainder", b, rt);
  return binary_any("remainder", a, b, rt, math::RemainderFn{});
}
FG_RULE(fmod) {
  check_not_bool("fmod", rt);
  check_int_divisor("fmod", b, rt);
  return binary_any("fmod", a, b, rt, math::FmodFn{});
}
FG_RULE(pow) {
  // PyTorch allows a bool tensor to a 0-d bool exponent (`mask ** True`) only.
  if (!(a.dim() > 0 && b.dim() == 0)) check_not_bool("pow", rt);
  return binary_any("pow", a, b, rt, math::PowFn{}); }
FG_RULE(atan2) {
  return map_binary("atan2", a, b, to_float_dtype(rt), math::Atan2Fn{},
                    [](DType t, auto f) { return dispatch_float(t, "atan2", f); });
}
FG_RULE(maximum) { return binary_any("maximum", a, b, rt, math::MaximumFn{}); }
FG_RULE(minimum) { return binary_any("minimum", a, b, rt, math::MinimumFn{}); }
FG_RULE(eq) { return binary_any("eq", a, b, rt, math::EqFn{}); }
FG_RULE(ne) { return binary_any("ne", a, b, rt, math::NeFn{}); }
FG_RULE(lt) { return binary_any("lt", a, b, rt, math::LtFn{}); }
FG_RULE(le) { return binary_any("le", a, b, rt, math::LeFn{}); }
FG_RULE(gt) { return binary_any("gt", a, b, rt, math::GtFn{}); }
FG_RULE(ge) { return binary_any("ge", a, b, rt, math::GeFn{}); }
FG_RULE(logical_and) { return binary_any("logical_and", a, b, rt, math::LogicalAndFn{}); }
FG_RULE(logical_or) { return binary_any("logical_or", a, b, rt, math::LogicalOrFn{}); }
FG_RULE(logical_xor) { return binary_any("logical_xor", a, b, rt, math::LogicalXorFn{}); }
FG_RULE(bitwise_and) { check_bitwise("bitwise_and", rt); return binary_any("bitwise_and", a, b, rt, math::BitAndFn{}); }
FG_RULE(bitwise_or) { check_bitwise("bitwise_or", rt); return binary_any("bitwise_or", a, b, rt, math::BitOrFn{}); }
FG_RULE(bitwise_xor) { check_bitwise("bitwise_xor", rt); return binary_any("bitwise_xor", a, b, rt, math::BitXorFn{}); }
#undef FG_RULE

// Ops whose in-place form keeps a bool result: comparisons and logical ops
// write their bool result into self's dtype (PyTorch allows `a.eq_(b)`).
bool bool_result(const char* name) {
  static const char* kNames[] = {"eq", "ne", "lt", "le", "gt", "ge",
                                 "logical_and", "logical_or", "logical_xor"};
  for (const char* n : kNames)
    if (std::strcmp(n, name) == 0) return true;
  return false;
}

// self = rule(self, other), written back in self's dtype.
const Tensor& inplace(const char* name, const Tensor& self, const Tensor& other, DType rt,
                      Tensor (*rule)(const Tensor&, const Tensor&, DType)) {
  std::string op = std::string(name) + "_";
  Shape shape = broadcast_shapes(self.sizes(), other.sizes(), op.c_str());
  FG_CHECK(shape == self.sizes(), op, ": output with shape ", shape_str(self.sizes()),
           " doesn't match the broadcast shape ", shape_str(shape));
  check_writable(op.c_str(), self);
  if (autograd::needs_grad({&self, &other})) {
    check_inplace_cast(op.c_str(), rt, self.dtype());
    return inplace_with_grad(op.c_str(), self,
                             [&](const Tensor& s) { return rule(s, other, rt); });
  }
  Tensor result = rule(self, other, rt);
  if (!bool_result(name)) check_inplace_cast(op.c_str(), result.dtype(), self.dtype());
  copy_(self, result, op.c_str());
  return self;
}

// ---- backward rules: (g, a, b) -> {grad_a, grad_b} (broadcast shapes are
// summed away by the engine). nullptr: not differentiable (bool/int results).
// Rules recompute a^b or a/b instead of saving the output, so that an in-place
// op on the result does not invalidate the graph (PyTorch saves the same).
using BinaryGrad = Tensors (*)(const Tensor& g, const Tensor& a, const Tensor& b);
#define FG_GRAD(name) Tensors name##_grad(const Tensor& g, const Tensor& a, const Tensor& b)
FG_GRAD(sub) { return {g, neg(g)}; }
FG_GRAD(mul) { return {mul(g, b), mul(g, a)}; }
FG_GRAD(div) { return {div(g, b), neg(mul(g, div(div(a, b), b)))}; }
FG_GRAD(floor_divide) { return {mul(g, 0), mul(g, 0)}; }
FG_GRAD(remainder) { return {g, neg(mul(g, floor_divide(a, b)))}; }
FG_GRAD(fmod) { return {g, neg(mul(g, trunc(div(a, b))))}; }
FG_GRAD(pow) {
  Tensor ga = mul(g, mul(b, pow(a, sub(b, 1))));
  // d/db a^b = a^b log a, defined as 0 where a == 0 and b >= 0 (PyTorch).
  Tensor gb = mul(g, mul(pow(a, b), log(a)));
  gb = where(logical_and(eq(a, 0), ge(b, 0)), 0.0, gb);
  return {ga, gb};
}
FG_GRAD(atan2) {
  Tensor d = add(square(a), square(b));
  return {mul(g, div(b, d)), neg(mul(g, div(a, d)))};
}
// Ties split the gradient evenly, like PyTorch.
FG_GRAD(maximum) {
  Tensor half = mul(g, 0.5);
  return {where(eq(a, b), half, where(gt(a, b), g, 0.0)), where(eq(a, b), half, where(lt(a, b), g, 0.0))};
}
FG_GRAD(minimum) {
  Tensor half = mul(g, 0.5);
  return {where(eq(a, b), half, where(lt(a, b), g, 0.0)), where(eq(a, b), half, where(gt(a, b), g, 0.0))};
}
#undef FG_GRAD
#define FG_NO_GRAD(name) constexpr BinaryGrad name##_grad = nullptr;
FG_NO_GRAD(eq) FG_NO_GRAD(ne) FG_NO_GRAD(lt) FG_NO_GRAD(le) FG_NO_GRAD(gt) FG_NO_GRAD(ge)
FG_NO_GRAD(logical_and) FG_NO_GRAD(logical_or) FG_NO_GRAD(logical_xor)
FG_NO_GRAD(bitwise_and) FG_NO_GRAD(bitwise_or) FG_NO_GRAD(bitwise_xor)
#undef FG_NO_GRAD

// Whether a rule reads a and b (sub and the others ignore them: saving them
// anyway would turn harmless in-place updates into version errors).
bool binary_grad_reads_inputs(const char* op) {
  return std::strcmp(op, "sub") != 0 && std::strcmp(op, "floor_divide") != 0;
}


// Records out = op(a, b) when autograd needs it.
void record_binary(const char* name, const std::string& node_name, BinaryGrad grad,
                   const Tensor& a, const Tensor& b, const Tensor& out) {
  if (!grad || !autograd::needs_grad({&a, &b})) return;
  const bool reads = binary_grad_reads_inputs(name);
  autograd::record(node_name.c_str(), {a, b}, {out}, reads ? Tensors{a, b} : Tensors{},
                   [grad, reads](const FunctionNode& n, const Tensors& gs) -> Tensors {
                     return reads ? grad(gs[0], n.saved(0), n.saved(1))
                                  : grad(gs[0], Tensor(), Tensor());
                   });
}

// Out-of-place forms that also record.
#define FG_RECORDED(name)                                                       \
  Tensor name##_recorded(const Tensor& a, const Tensor& b, DType rt) {          \
    static const std::string kNode = backward_name(#name);               \
    Tensor out = name##_rule(a, b, rt);                                         \
    record_binary(#name, kNode, name##_grad, a, b, out);                        \
    return out;                                                                 \
  }
FG_BINARY_OPS(FG_RECORDED)
#undef FG_RECORDED

}  // namespace

#define FG_DEFINE_BINARY(name)                                                  \
  Tensor name(const Tensor& a, const Tensor& b) {                               \
    return name##_recorded(a, b, result_type(a, b));                            \
  }                                                                             \
  Tensor name(const Tensor& a, const Scalar& b) {                               \
    DType rt = result_type(a, b);                                               \
    return name##_recorded(a, scalar_tensor(b, rt), rt);                        \
  }                                                                             \
  Tensor name(const Scalar& a, const Tensor& b) {                               \
    DType rt = result_type(b, a);                                               \
    return name##_recorded(scalar_tensor(a, rt), b, rt);                        \
  }                                                                             \
  const Tensor& name##_(const Tensor& self, const Tensor& b) {                  \
    return inplace(#name, self, b, result_type(self, b), &name##_recorded);     \
  }                                                                             \
  const Tensor& name##_(const Tensor& self, const Scalar& b) {                  \
    DType rt = result_type(self, b);                                            \
    return inplace(#name, self, scalar_tensor(b, rt), rt, &name##_recorded);    \
  }
FG_BINARY_OPS(FG_DEFINE_BINARY)
#undef FG_DEFINE_BINARY

// ---- add / sub with alpha ------------------------------------------------------
namespace {
Tensor add_kernel(const Tensor& a, const Tensor& b, DType rt, const Scalar& alpha) {
  FG_CHECK_TYPE(!alpha.is_float() || is_floating(rt),
                "add: for integral input tensors, argument alpha must not be a "
                "floating point number.");
  if (alpha.kind != Scalar::Kind::Float && alpha.i == 1)
    return binary_any("add", a, b, rt, math::AddFn{});
  return dispatch(rt, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      return binary_any("add", a, b, rt, math::AddFn{});
    } else {
      Tensor ai = to_dtype(a, rt), bi = to_dtype(b, rt);
      Tensor out = empty(broadcast_shapes(a.sizes(), b.sizes(), "add"), rt, a.device());
      launch<T, T, T>("add", out, {&ai, &bi}, math::AddAlphaFn<T>{alpha.to<T>()});
      return out;
    }
  });
}
// a + alpha * b, recorded as AddBackward: (g, alpha * g).
Tensor add_rule(const Tensor& a, const Tensor& b, DType rt, const Scalar& alpha) {
  Tensor out = add_kernel(a, b, rt, alpha);
  if (autograd::needs_grad({&a, &b})) {
    double k = alpha.is_float() ? alpha.f : static_cast<double>(alpha.i);
    autograd::record("AddBackward", {a, b}, {out}, {},
                     [k](const FunctionNode&, const Tensors& gs) -> Tensors {
                       return {gs[0], k == 1.0 ? gs[0] : mul(gs[0], k)};
                     });
  }
  return out;
}
Scalar negate(const Scalar& s) {
  return s.is_float() ? Scalar(-s.f) : Scalar(static_cast<int64_t>(-s.i));
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return add_rule(a, b, result_type(a, b), alpha);
}
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  DType rt = result_type(a, b);
  return add_rule(a, scalar_tensor(b, rt), rt, alpha);
}
Tensor add(const Scalar& a, const Tensor& b) { return add(b, a); }
const Tensor& add_(const Tensor& self, const Tensor& b, const Scalar& alpha) {
  DType rt = result_type(self, b);
  check_inplace_cast("add_", rt, self.dtype());
  if (autograd::needs_grad({&self, &b}))
    return inplace_with_grad("add_", self, [&](const Tensor& s) { return add_rule(s, b, rt, alpha); });
  if (rt == self.dtype() && alpha.kind != Scalar::Kind::Float && alpha.i == 1)
    return binary_inplace("add_", self, b, rt, math::AddFn{});
  copy_(self, add_rule(self, b, rt, alpha), "add_");
  return self;
}
const Tensor& add_(const Tensor& self, const Scalar& b, const Scalar& alpha) {
  DType rt = result_type(self, b);
  return add_(self, scalar_tensor(b, rt), alpha);
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  if (result_type(a, b) == DType::Bool) return sub(a, b);  // raises the bool error
  return add(a, b, negate(alpha));
}
const Tensor& sub_(const Tensor& self, const Tensor& b, const Scalar& alpha) {
  if (result_type(self, b) == DType::Bool) return sub_(self, b);
  return add_(self, b, negate(alpha));
}

Tensor div(const Tensor& a, const Tensor& b, const std::optional<std::string>& mode) {
  if (!mode) return div(a, b);
  if (*mode == "floor") return floor_divide(a, b);
  FG_CHECK_VALUE(*mode == "trunc", "div: expected rounding_mode to be one of None, "
                 "'trunc', or 'floor' but found '", *mode, "'");
  DType rt = result_type(a, b);
  if (is_floating(rt)) return trunc(div(a, b));
  check_int_divisor("div", b, rt);
  return binary_any("div", a, b, rt, math::TruncDivFn{});
}

}  // namespace fastgrad
