// Public elementwise ops. The X-macro lists are the single source for the
// declarations (here), the definitions (unary.cpp / binary.cpp) and the Python
// bindings (bindings/elementwise.cpp).
#pragma once
#include <optional>
#include <string>

#include "core/scalar.h"
#include "core/tensor.h"

namespace fastgrad {

// name, functor in math/unary.h, what backward saves (x, y or nothing), and
// backward: the input gradient given g (output gradient), x (input) and
// y (output), written with fastgrad ops.
// Ints and bool compute in float32.
#define FG_UNARY_FLOAT_OPS(X)                                                  \
  X(exp, ExpFn, SaveY, mul(g, y))                                                     \
  X(exp2, Exp2Fn, SaveY, mul(g, mul(y, M_LN2)))                                       \
  X(log, LogFn, SaveX, div(g, x))                                                     \
  X(log2, Log2Fn, SaveX, div(g, mul(x, M_LN2)))                                       \
  X(log10, Log10Fn, SaveX, div(g, mul(x, M_LN10)))                                   \
  X(log1p, Log1pFn, SaveX, div(g, add(x, Scalar(1))))                                 \
  X(expm1, Expm1Fn, SaveY, mul(g, add(y, Scalar(1))))                                 \
  X(sqrt, SqrtFn, SaveY, div(g, mul(y, 2)))                                           \
  X(rsqrt, RsqrtFn, SaveY, mul(g, mul(pow(y, 3), -0.5)))                              \
  X(sin, SinFn, SaveX, mul(g, cos(x)))                                                \
  X(cos, CosFn, SaveX, mul(g, neg(sin(x))))                                           \
  X(tan, TanFn, SaveY, mul(g, add(square(y), Scalar(1))))                             \
  X(asin, AsinFn, SaveX, mul(g, rsqrt(sub(1, square(x)))))                            \
  X(acos, AcosFn, SaveX, neg(mul(g, rsqrt(sub(1, square(x))))))                       \
  X(atan, AtanFn, SaveX, div(g, add(square(x), Scalar(1))))                           \
  X(sinh, SinhFn, SaveX, mul(g, cosh(x)))                                             \
  X(cosh, CoshFn, SaveX, mul(g, sinh(x)))                                             \
  X(tanh, TanhFn, SaveY, mul(g, sub(1, square(y))))                                   \
  X(erf, ErfFn, SaveX, mul(g, mul(exp(neg(square(x))), M_2_SQRTPI)))                  \
  X(sigmoid, SigmoidFn, SaveY, mul(g, mul(y, sub(1, y))))                             \
  X(silu, SiluFn, SaveX, silu_backward(g, x))                                         \
  X(reciprocal, ReciprocalFn, SaveY, mul(g, neg(square(y))))
// Keep the input dtype. (neg, abs, relu reject bool like PyTorch.)
#define FG_UNARY_SAME_OPS(X)                                                   \
  X(neg, NegFn, SaveNone, neg(g))                                                        \
  X(abs, AbsFn, SaveX, mul(g, sign(x)))                                               \
  X(sign, SignFn, SaveNone, mul(g, 0))                                                   \
  X(relu, ReluFn, SaveY, relu_backward(g, y))                                         \
  X(square, SquareFn, SaveX, mul(g, mul(x, 2)))                                       \
  X(floor, FloorFn, SaveNone, mul(g, 0))                                                 \
  X(ceil, CeilFn, SaveNone, mul(g, 0))                                                   \
  X(trunc, TruncFn, SaveNone, mul(g, 0))                                                 \
  X(round, RoundFn, SaveNone, mul(g, 0))                                                 \
  X(bitwise_not, BitwiseNotFn, SaveNone, Tensor())
// Bool results (never differentiable).
#define FG_UNARY_BOOL_OPS(X)                                               \
  X(isnan, IsNanFn) X(isinf, IsInfFn) X(isfinite, IsFiniteFn)              \
  X(logical_not, LogicalNotFn)

#define FG_DECLARE_UNARY(name, Fn, save, grad) \
  Tensor name(const Tensor& x);    \
  const Tensor& name##_(const Tensor& x);
FG_UNARY_FLOAT_OPS(FG_DECLARE_UNARY)
FG_UNARY_SAME_OPS(FG_DECLARE_UNARY)
#undef FG_DECLARE_UNARY
#define FG_DECLARE_UNARY_BOOL(name, Fn) Tensor name(const Tensor& x);
FG_UNARY_BOOL_OPS(FG_DECLARE_UNARY_BOOL)
#undef FG_DECLARE_UNARY_BOOL

// gelu(approximate="none" | "tanh")
Tensor gelu(const Tensor& x, const std::string& approximate = "none");

// name: every binary op has (T, T), (T, S), (S, T) and in-place (T, T|S).
#define FG_BINARY_OPS(X)                                                   \
  X(sub) X(mul) X(div) X(floor_divide) X(remainder) X(fmod) X(pow)         \
  X(atan2) X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)       \
  X(logical_and) X(logical_or) X(logical_xor) X(bitwise_and)               \
  X(bitwise_or) X(bitwise_xor)

#define FG_DECLARE_BINARY(name)                               \
  Tensor name(const Tensor& a, const Tensor& b);              \
  Tensor name(const Tensor& a, const Scalar& b);              \
  Tensor name(const Scalar& a, const Tensor& b);              \
  const Tensor& name##_(const Tensor& self, const Tensor& b); \
  const Tensor& name##_(const Tensor& self, const Scalar& b);
FG_BINARY_OPS(FG_DECLARE_BINARY)
#undef FG_DECLARE_BINARY

// add and sub take PyTorch's alpha: a + alpha * b.
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha = Scalar(1));
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha = Scalar(1));
Tensor add(const Scalar& a, const Tensor& b);
const Tensor& add_(const Tensor& self, const Tensor& b, const Scalar& alpha = Scalar(1));
const Tensor& add_(const Tensor& self, const Scalar& b, const Scalar& alpha = Scalar(1));
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha);
const Tensor& sub_(const Tensor& self, const Tensor& b, const Scalar& alpha);
// div(rounding_mode = None | "trunc" | "floor")
Tensor div(const Tensor& a, const Tensor& b, const std::optional<std::string>& mode);

// clamp(min, max): either bound may be absent; scalar or tensor bounds.
Tensor clamp(const Tensor& x, const std::optional<Scalar>& min,
             const std::optional<Scalar>& max);
Tensor clamp(const Tensor& x, const std::optional<Tensor>& min,
             const std::optional<Tensor>& max);
const Tensor& clamp_(const Tensor& x, const std::optional<Scalar>& min,
                     const std::optional<Scalar>& max);

// where(cond, a, b): cond must be bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b);
Tensor where(const Tensor& cond, const Scalar& a, const Tensor& b);
Tensor where(const Tensor& cond, const Scalar& a, const Scalar& b);

// In-place fills.
const Tensor& fill_(const Tensor& self, const Scalar& value);
const Tensor& zero_(const Tensor& self);

}  // namespace fastgrad
