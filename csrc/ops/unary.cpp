// Unary elementwise ops: forward definitions generated from the lists in
// elementwise_ops.h; the math is in math/unary.h.
#include <cmath>
#include <string>
#include <type_traits>

#include "math/binary.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"

namespace fastgrad {

namespace {

// PyTorch rejects these on bool tensors (square is promoted to int64 instead).
void check_not_bool(const char* op, const Tensor& x) {
  if (x.dtype() != DType::Bool) return;
  std::string o(op);
  if (o.back() == '_') o.pop_back();
  if (o == "neg")
    fail<RuntimeError>(op, ": negation, the `-` operator, on a bool tensor is not "
                       "supported. If you are trying to invert a mask, use the `~` "
                       "or `logical_not()` operator instead.");
  FG_CHECK(o != "relu", op, ": boolean inputs not supported for relu");
  for (const char* n : {"abs", "floor", "ceil", "trunc", "round"})
    if (o == n) fail<NotImplementedError>(op, ": not implemented for 'Bool'");
}

void check_integer_only(const char* op, const Tensor& x) {
  FG_CHECK_TYPE(std::string(op).rfind("bitwise_not", 0) != 0 || !is_floating(x.dtype()), op,
                ": only integral and bool tensors are supported, got ", x.dtype());
}

// self = f(self) in place, computing in `compute`; `dispatcher` picks the
// dtypes fn is instantiated for (floats only for float math: no exp(bool)).
template <class Fn, class Dispatch>
const Tensor& unary_inplace(const char* op, const Tensor& self, DType compute, Fn fn,
                            Dispatch dispatcher) {
  check_inplace_cast(op, compute, self.dtype());
  check_writable(op, self);
  if (compute == self.dtype() && !is_16bit_float(compute)) {
    dispatcher(compute, [&](auto tag) {
      using T = decltype(tag);
      // fn itself when it already returns T, so the backend can see which
      // functor it runs (cpu::VecUnary's 4-wide float loops).
      if constexpr (std::is_same_v<decltype(fn(T{})), T>)
        launch<T, T>(op, self, {&self}, fn);
      else
        launch<T, T>(op, self, {&self}, math::CastResultFn<T, Fn>{fn});
    });
  } else {  // converts (an int tensor's float math), or the 16-bit float32 detour
    copy_(self, map_unary(op, self, compute, fn, dispatcher), op);
  }
  self.bump_version(op);
  return self;
}

}  // namespace

namespace {

// relu's input gradient: 0 where y <= 0, else g (torch's threshold_backward:
// a NaN or inf g where y <= 0 still gives 0, a NaN y passes g). One fused pass in a plain
// backward instead of a comparison, a cast and a product; recorded ops when
// the backward itself is being recorded (create_graph).
Tensor relu_backward(const Tensor& g, const Tensor& y) {
  if (autograd::grad_enabled()) return where(le(y, 0), Scalar(0), g);
  return binary_any("relu_backward", g, y, result_type(g, y), math::ReluGradFn{});
}

Tensor silu_backward(const Tensor& g, const Tensor& x) {
  Tensor s = sigmoid(x);
  return mul(g, mul(s, add(mul(x, sub(1, s)), Scalar(1))));
}

// What a unary backward keeps: saving only what the rule reads means fewer
// false "modified by an inplace operation" errors (PyTorch saves the same).
enum Save { SaveX, SaveY, SaveNone };

// Records y = op(x) with the rule `grad` (g, x, y -> input gradient).
#define FG_RECORD_UNARY(name, save, grad)                                        \
  if (autograd::needs_grad({&x})) {                                              \
    static const std::string kName = backward_name(#name);                       \
    std::vector<Tensor> keep;                                                    \
    if (save != SaveNone) keep.push_back(save == SaveX ? x : out);               \
    autograd::record(kName.c_str(), {x}, {out}, keep,                            \
                     [](const FunctionNode& n, const Tensors& gs) -> Tensors {   \
                       const Tensor& g = gs[0];                                  \
                       Tensor x = save == SaveX ? n.saved(0) : Tensor();         \
                       Tensor y = save == SaveY ? n.saved(0) : Tensor();         \
                       (void)g; (void)x; (void)y;                                \
                       return {grad};                                            \
                     });                                                         \
  }

}  // namespace

#define FG_DEFINE_UNARY_FLOAT(name, Fn, save, grad)                                  \
  Tensor name(const Tensor& x) {                                               \
    Tensor out = unary_float(#name, x, math::Fn{});                            \
    FG_RECORD_UNARY(name, save, grad)                                                \
    return out;                                                                \
  }                                                                            \
  const Tensor& name##_(const Tensor& x) {                                     \
    if (autograd::needs_grad({&x}))                                            \
      return inplace_with_grad(#name "_", x, [](const Tensor& s) { return name(s); }); \
    return unary_inplace(#name "_", x, to_float_dtype(x.dtype()), math::Fn{},  \
                         [](DType t, auto f) { return dispatch_float(t, #name "_", f); }); \
  }
FG_UNARY_FLOAT_OPS(FG_DEFINE_UNARY_FLOAT)
#undef FG_DEFINE_UNARY_FLOAT

#define FG_DEFINE_UNARY_SAME(name, Fn, save, grad)                                   \
  Tensor name(const Tensor& x) {                                               \
    check_not_bool(#name, x);                                                  \
    check_integer_only(#name, x);                                              \
    if (x.dtype() == DType::Bool && std::string(#name) == "square")            \
      return unary_any(#name, to_dtype(x, kDefaultInt), math::Fn{});           \
    Tensor out = unary_any(#name, x, math::Fn{});                              \
    FG_RECORD_UNARY(name, save, grad)                                                \
    return out;                                                                \
  }                                                                            \
  const Tensor& name##_(const Tensor& x) {                                     \
    check_not_bool(#name "_", x);                                              \
    check_integer_only(#name "_", x);                                          \
    if (autograd::needs_grad({&x}))                                            \
      return inplace_with_grad(#name "_", x, [](const Tensor& s) { return name(s); }); \
    return unary_inplace(#name "_", x, x.dtype(), math::Fn{},                  \
                         [](DType t, auto f) { return dispatch(t, f, #name "_"); }); \
  }
FG_UNARY_SAME_OPS(FG_DEFINE_UNARY_SAME)
#undef FG_DEFINE_UNARY_SAME

#define FG_DEFINE_UNARY_BOOL(name, Fn) \
  Tensor name(const Tensor& x) { return unary_any(#name, x, math::Fn{}); }
FG_UNARY_BOOL_OPS(FG_DEFINE_UNARY_BOOL)
#undef FG_DEFINE_UNARY_BOOL

// gelu = x * Phi(x); d/dx = Phi(x) + x * phi(x). The tanh form differentiates
// its own formula, written with fastgrad ops (so it is twice differentiable).
Tensor gelu(const Tensor& x, const std::string& approximate) {
  Tensor out;
  if (approximate == "none") out = unary_float("gelu", x, math::GeluFn{});
  else if (approximate == "tanh") out = unary_float("gelu", x, math::GeluTanhFn{});
  else fail<ValueError>("gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  if (!autograd::needs_grad({&x})) return out;
  bool exact = approximate == "none";
  autograd::record("GeluBackward", {x}, {out}, {x},
                   [exact](const FunctionNode& n, const Tensors& gs) -> Tensors {
    Tensor x = n.saved(0);
    if (exact) {
      Tensor cdf = mul(add(erf(mul(x, M_SQRT1_2)), Scalar(1)), 0.5);
      Tensor pdf = mul(exp(mul(square(x), -0.5)), 0.5 * M_2_SQRTPI * M_SQRT1_2);
      return {mul(gs[0], add(cdf, mul(x, pdf)))};
    }
    const double k = std::sqrt(2.0 / M_PI);
    Tensor inner = mul(add(x, mul(pow(x, 3), 0.044715)), k);
    Tensor t = tanh(inner);
    Tensor dinner = mul(add(mul(square(x), 3 * 0.044715), Scalar(1)), k);
    Tensor d = add(mul(add(t, Scalar(1)), 0.5), mul(mul(x, 0.5), mul(sub(1, square(t)), dinner)));
    return {mul(gs[0], d)};
  });
  return out;
}

}  // namespace fastgrad
