// Scalar math of the unary elementwise ops, shared by the CPU and CUDA
// backends. No tensors here: each functor maps one value of type T to one
// value. Float-only functors are only ever instantiated for float/double.
#pragma once
#include <cmath>
#include <type_traits>

#include "math/host_device.h"
#include "math/vec_exp.h"

namespace fastgrad::math {

#define FG_FLOAT_FN(Name, expr)                                   \
  struct Name {                                                   \
    template <class T> FG_HOST_DEVICE T operator()(T x) const {   \
      return static_cast<T>(expr);                                \
    }                                                             \
  };

FG_FLOAT_FN(Exp2Fn, std::exp2(x))
FG_FLOAT_FN(LogFn, std::log(x))
FG_FLOAT_FN(Log2Fn, std::log2(x))
FG_FLOAT_FN(Log10Fn, std::log10(x))
FG_FLOAT_FN(Log1pFn, std::log1p(x))
FG_FLOAT_FN(Expm1Fn, std::expm1(x))
FG_FLOAT_FN(SqrtFn, std::sqrt(x))
FG_FLOAT_FN(RsqrtFn, T(1) / std::sqrt(x))
FG_FLOAT_FN(SinFn, std::sin(x))
FG_FLOAT_FN(CosFn, std::cos(x))
FG_FLOAT_FN(TanFn, std::tan(x))
FG_FLOAT_FN(AsinFn, std::asin(x))
FG_FLOAT_FN(AcosFn, std::acos(x))
FG_FLOAT_FN(AtanFn, std::atan(x))
FG_FLOAT_FN(SinhFn, std::sinh(x))
FG_FLOAT_FN(CoshFn, std::cosh(x))
FG_FLOAT_FN(ErfFn, std::erf(x))
FG_FLOAT_FN(ReciprocalFn, T(1) / x)
FG_FLOAT_FN(SiluFn, x / (T(1) + std::exp(-x)))
// gelu(x) = x * Phi(x), exact (erf) form: PyTorch's default.
FG_FLOAT_FN(GeluFn, T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440))))
// approximate='tanh'
FG_FLOAT_FN(GeluTanhFn, T(0.5) * x * (T(1) + std::tanh(T(0.79788456080286535588) *
                                              (x + T(0.044715) * x * x * x))))
#undef FG_FLOAT_FN

// float on the CPU goes through math/vec_exp.h (Note [Vectorizable float
// activations]): the backend's vector contiguous loop (cpu::VecUnary) and
// every scalar path (strided, in place) then give the same bits for a value.
#if defined(__CUDA_ARCH__)
#define FG_VEC_FLOAT_FN(Name, vec_fn, expr)                       \
  struct Name {                                                   \
    template <class T> FG_HOST_DEVICE T operator()(T x) const {   \
      return static_cast<T>(expr);                                \
    }                                                             \
  };
#else
#define FG_VEC_FLOAT_FN(Name, vec_fn, expr)                       \
  struct Name {                                                   \
    template <class T> FG_HOST_DEVICE T operator()(T x) const {   \
      if constexpr (std::is_same_v<T, float>) return vec::vec_fn(x); \
      else return static_cast<T>(expr);                           \
    }                                                             \
  };
#endif
FG_VEC_FLOAT_FN(ExpFn, exp_f32, std::exp(x))
FG_VEC_FLOAT_FN(TanhFn, tanh_f32, std::tanh(x))
// Split at 0 so that neither branch overflows exp().
FG_VEC_FLOAT_FN(SigmoidFn, sigmoid_f32,
                x >= T(0) ? T(1) / (T(1) + std::exp(-x))
                          : std::exp(x) / (T(1) + std::exp(x)))
#undef FG_VEC_FLOAT_FN

// Functors below keep the input type (integers included).
struct NegFn { template <class T> FG_HOST_DEVICE T operator()(T x) const { return static_cast<T>(-x); } };
struct AbsFn {
  template <class T> FG_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else return x < T(0) ? static_cast<T>(-x) : x;
  }
};
struct SignFn {
  template <class T> FG_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else if constexpr (std::is_floating_point_v<T>)
      return static_cast<T>((T(0) < x) - (x < T(0)));  // NaN -> 0, like PyTorch
    else return static_cast<T>((T(0) < x) - (x < T(0)));
  }
};
struct ReluFn {
  template <class T> FG_HOST_DEVICE T operator()(T x) const {
    // NaN propagates, like PyTorch.
    return x > T(0) || x != x ? x : T(0);
  }
};
struct SquareFn { template <class T> FG_HOST_DEVICE T operator()(T x) const { return static_cast<T>(x * x); } };
#define FG_ROUND_FN(Name, fn)                                                \
  struct Name {                                                              \
    template <class T> FG_HOST_DEVICE T operator()(T x) const {              \
      if constexpr (std::is_floating_point_v<T>) return fn(x);               \
      else return x;                                                         \
    }                                                                        \
  };
FG_ROUND_FN(FloorFn, std::floor)
FG_ROUND_FN(CeilFn, std::ceil)
FG_ROUND_FN(TruncFn, std::trunc)
FG_ROUND_FN(RoundFn, std::nearbyint)  // half to even, like PyTorch
#undef FG_ROUND_FN

// Bool-valued.
struct IsNanFn { template <class T> FG_HOST_DEVICE bool operator()(T x) const { return x != x; } };
struct IsInfFn {
  template <class T> FG_HOST_DEVICE bool operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::isinf(x);
    else return false;
  }
};
struct IsFiniteFn {
  template <class T> FG_HOST_DEVICE bool operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::isfinite(x);
    else return true;
  }
};
struct LogicalNotFn { template <class T> FG_HOST_DEVICE bool operator()(T x) const { return !x; } };
struct BitwiseNotFn {
  template <class T> FG_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return !x;
    else if constexpr (std::is_integral_v<T>) return ~x;
    else return x;  // rejected before dispatch
  }
};

// Conversion used by copy/to(): bool targets test != 0, like PyTorch.
template <class To>
struct CastFn {
  template <class T> FG_HOST_DEVICE To operator()(T x) const {
    if constexpr (std::is_same_v<To, bool>) return x != T(0);
    else return static_cast<To>(x);
  }
};

// fn's result cast to T (in-place ops whose math returns a wider type).
template <class T, class Fn>
struct CastResultFn {
  Fn fn;
  template <class... A> FG_HOST_DEVICE T operator()(A... a) const {
    return static_cast<T>(fn(a...));
  }
};

}  // namespace fastgrad::math
