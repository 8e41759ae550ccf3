// Public elementwise ops. The X-macro lists are the single source for the
// declarations (here), the definitions (unary.cpp / binary.cpp) and the Python
// bindings (bindings/elementwise.cpp).
#pragma once
#include <optional>
#include <string>

#include "core/scalar.h"
#include "core/tensor.h"

namespace fastgrad {

// name, functor in math/unary.h. Ints and bool compute in float32.
#define FG_UNARY_FLOAT_OPS(X)                                              \
  X(exp, ExpFn) X(exp2, Exp2Fn) X(log, LogFn) X(log2, Log2Fn)              \
  X(log10, Log10Fn) X(log1p, Log1pFn) X(expm1, Expm1Fn) X(sqrt, SqrtFn)    \
  X(rsqrt, RsqrtFn) X(sin, SinFn) X(cos, CosFn) X(tan, TanFn)              \
  X(asin, AsinFn) X(acos, AcosFn) X(atan, AtanFn) X(sinh, SinhFn)          \
  X(cosh, CoshFn) X(tanh, TanhFn) X(erf, ErfFn) X(sigmoid, SigmoidFn)      \
  X(silu, SiluFn) X(reciprocal, ReciprocalFn)
// Keep the input dtype. (neg, abs, relu reject bool like PyTorch.)
#define FG_UNARY_SAME_OPS(X)                                               \
  X(neg, NegFn) X(abs, AbsFn) X(sign, SignFn) X(relu, ReluFn)              \
  X(square, SquareFn) X(floor, FloorFn) X(ceil, CeilFn) X(trunc, TruncFn)  \
  X(round, RoundFn) X(bitwise_not, BitwiseNotFn)
// Bool results.
#define FG_UNARY_BOOL_OPS(X)                                               \
  X(isnan, IsNanFn) X(isinf, IsInfFn) X(isfinite, IsFiniteFn)              \
  X(logical_not, LogicalNotFn)

#define FG_DECLARE_UNARY(name, Fn) \
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
