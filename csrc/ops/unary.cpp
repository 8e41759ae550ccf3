// Unary elementwise ops: forward definitions generated from the lists in
// elementwise_ops.h; the math is in math/unary.h.
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"

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
  FG_CHECK_TYPE(std::string(op) != "bitwise_not" || !is_floating(x.dtype()), op,
                ": only integral and bool tensors are supported, got ", x.dtype());
}

// self = f(self) in place, computing in `compute`.
template <class Fn>
const Tensor& unary_inplace(const char* op, const Tensor& self, DType compute, Fn fn) {
  check_inplace_cast(op, compute, self.dtype());
  check_writable(op, self);
  if (compute == self.dtype()) {
    dispatch(compute, [&](auto tag) {
      using T = decltype(tag);
      launch<T, T>(op, self, {&self}, [fn](T x) { return static_cast<T>(fn(x)); });
    });
  } else {
    copy_(self, unary_float(op, self, fn));
  }
  self.bump_version();
  return self;
}

}  // namespace

#define FG_DEFINE_UNARY_FLOAT(name, Fn)                                  \
  Tensor name(const Tensor& x) { return unary_float(#name, x, math::Fn{}); } \
  const Tensor& name##_(const Tensor& x) {                               \
    return unary_inplace(#name "_", x, to_float_dtype(x.dtype()), math::Fn{}); \
  }
FG_UNARY_FLOAT_OPS(FG_DEFINE_UNARY_FLOAT)
#undef FG_DEFINE_UNARY_FLOAT

#define FG_DEFINE_UNARY_SAME(name, Fn)                                   \
  Tensor name(const Tensor& x) {                                         \
    check_not_bool(#name, x);                                            \
    check_integer_only(#name, x);                                        \
    if (x.dtype() == DType::Bool && std::string(#name) == "square")      \
      return unary_any(#name, to_dtype(x, kDefaultInt), math::Fn{});     \
    return unary_any(#name, x, math::Fn{});                              \
  }                                                                      \
  const Tensor& name##_(const Tensor& x) {                               \
    check_not_bool(#name "_", x);                                        \
    check_integer_only(#name "_", x);                                    \
    return unary_inplace(#name "_", x, x.dtype(), math::Fn{});           \
  }
FG_UNARY_SAME_OPS(FG_DEFINE_UNARY_SAME)
#undef FG_DEFINE_UNARY_SAME

#define FG_DEFINE_UNARY_BOOL(name, Fn) \
  Tensor name(const Tensor& x) { return unary_any(#name, x, math::Fn{}); }
FG_UNARY_BOOL_OPS(FG_DEFINE_UNARY_BOOL)
#undef FG_DEFINE_UNARY_BOOL

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none") return unary_float("gelu", x, math::GeluFn{});
  if (approximate == "tanh") return unary_float("gelu", x, math::GeluTanhFn{});
  fail<ValueError>("gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
}

}  // namespace fastgrad
