// Scalar math of the binary elementwise ops, shared by CPU and CUDA. Both
// operands arrive in the op's compute type T; the result is T or bool.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "math/host_device.h"

namespace fastgrad::math {

struct AddFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return a || b;
    else return static_cast<T>(a + b);
  }
};
// add with alpha: a + alpha * b
template <class T> struct AddAlphaFn {
  T alpha;
  FG_HOST_DEVICE T operator()(T a, T b) const { return static_cast<T>(a + alpha * b); }
};
struct SubFn { template <class T> FG_HOST_DEVICE T operator()(T a, T b) const { return static_cast<T>(a - b); } };
// relu's backward: 0 where y (relu's output) <= 0, else g (NaN y passes g).
struct ReluGradFn {
  template <class T> FG_HOST_DEVICE T operator()(T g, T y) const { return y <= T(0) ? T(0) : g; }
};
struct MulFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return a && b;
    else return static_cast<T>(a * b);
  }
};
struct DivFn { template <class T> FG_HOST_DEVICE T operator()(T a, T b) const { return a / b; } };  // floats only

// Integer division guards: b == 0 is rejected before the kernel runs (and
// yields 0 here so nothing traps); b == -1 avoids INT_MIN / -1 (SIGFPE).
struct FloorDivFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) {
      if (b == T(0)) return a / b;
      T m = std::fmod(a, b);
      T d = (a - m) / b;
      if (m != T(0) && ((b < T(0)) != (m < T(0)))) d -= T(1);
      T fd = std::floor(d);
      if (d - fd > T(0.5)) fd += T(1);
      return d == T(0) ? std::copysign(T(0), a / b) : fd;
    } else if constexpr (std::is_same_v<T, bool>) {
      return a;
    } else {
      if (b == 0) return 0;
      if (b == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(a));
      T q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
  }
};
// Integer division rounding toward zero (div with rounding_mode="trunc").
struct TruncDivFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) return std::trunc(a / b);
    else if constexpr (std::is_same_v<T, bool>) return a;
    else if (b == 0) return 0;
    else if (b == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(a));
    else return static_cast<T>(a / b);
  }
};
// Python-style remainder: the sign follows the divisor.
struct RemainderFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) {
      T m = std::fmod(a, b);
      return (m != T(0) && ((b < T(0)) != (m < T(0)))) ? m + b : m;
    } else if constexpr (std::is_same_v<T, bool>) {
      return false;
    } else {
      if (b == 0 || b == -1) return 0;
      T m = a % b;
      return (m != 0 && ((b < 0) != (m < 0))) ? static_cast<T>(m + b) : m;
    }
  }
};
struct FmodFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) return std::fmod(a, b);
    else if constexpr (std::is_same_v<T, bool>) return false;
    else return (b == 0 || b == -1) ? T(0) : static_cast<T>(a % b);
  }
};
struct PowFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) {
      return std::pow(a, b);
    } else if constexpr (std::is_same_v<T, bool>) {
      return a || !b;
    } else {
      if (b < 0) return a == 1 ? T(1) : a == -1 ? static_cast<T>((b & 1) ? -1 : 1) : T(0);
      T r = 1;
      while (b) {  // square-and-multiply, wrapping like PyTorch
        if (b & 1) r = static_cast<T>(r * a);
        a = static_cast<T>(a * a);
        b >>= 1;
      }
      return r;
    }
  }
};
struct Atan2Fn { template <class T> FG_HOST_DEVICE T operator()(T a, T b) const { return std::atan2(a, b); } };

// NaN-propagating, like torch.maximum/minimum.
struct MaximumFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) { if (a != a || b != b) return a + b; }
    return a > b ? a : b;
  }
};
struct MinimumFn {
  template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) { if (a != a || b != b) return a + b; }
    return a < b ? a : b;
  }
};

#define FG_CMP_FN(Name, op) \
  struct Name { template <class T> FG_HOST_DEVICE bool operator()(T a, T b) const { return a op b; } };
FG_CMP_FN(EqFn, ==)
FG_CMP_FN(NeFn, !=)
FG_CMP_FN(LtFn, <)
FG_CMP_FN(LeFn, <=)
FG_CMP_FN(GtFn, >)
FG_CMP_FN(GeFn, >=)
#undef FG_CMP_FN

struct LogicalAndFn { template <class T> FG_HOST_DEVICE bool operator()(T a, T b) const { return a && b; } };
struct LogicalOrFn { template <class T> FG_HOST_DEVICE bool operator()(T a, T b) const { return a || b; } };
struct LogicalXorFn { template <class T> FG_HOST_DEVICE bool operator()(T a, T b) const { return bool(a) != bool(b); } };

#define FG_BIT_FN(Name, op)                                                 \
  struct Name {                                                             \
    template <class T> FG_HOST_DEVICE T operator()(T a, T b) const {        \
      if constexpr (std::is_integral_v<T>) return static_cast<T>(a op b);   \
      else return a; /* rejected before dispatch */                         \
    }                                                                       \
  };
FG_BIT_FN(BitAndFn, &)
FG_BIT_FN(BitOrFn, |)
FG_BIT_FN(BitXorFn, ^)
#undef FG_BIT_FN

// clamp with optional bounds (NaN in x propagates).
template <class T> struct ClampFn {
  T lo, hi;
  bool has_lo, has_hi;
  FG_HOST_DEVICE T operator()(T x) const {
    if constexpr (kIsFloat<T>) { if (x != x) return x; }
    if (has_lo && x < lo) x = lo;
    if (has_hi && x > hi) x = hi;
    return x;
  }
};

// masked_fill: value where the mask is set.
template <class T> struct MaskedFillFn {
  T value;
  FG_HOST_DEVICE T operator()(bool m, T a) const { return m ? value : a; }
};

struct WhereFn {
  template <class T> FG_HOST_DEVICE T operator()(bool c, T a, T b) const { return c ? a : b; }
};

}  // namespace fastgrad::math
