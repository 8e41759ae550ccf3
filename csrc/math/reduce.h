// Reduction combiners shared by the CUDA kernels and the host simulation of
// their thread/warp decomposition (_C._cuda._reduce_sim). A combiner is a
// FG_HOST_DEVICE struct over input elements T:
//   Acc init();                     the identity (an empty partial)
//   Acc step(Acc a, T v, int64_t i) folds element i of the run into a
//   Acc merge(Acc a, Acc b)         joins two partials of disjoint index ranges
//   Out finish(Acc a, int64_t n)    the result of a run of n elements
// merge() must not depend on which partial covers the lower indices unless
// it says so through the indices it carries (ArgOp): the kernels merge in a
// tree whose shape depends on the launch. Accumulators are plain aggregates
// (no constructors): they live in shared memory and travel through
// __shfl_down_sync as 32-bit words. Floats accumulate in double and integer
// sums / products wrap like PyTorch's, as the CPU row functors do.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "math/host_device.h"

namespace fastgrad::math {

// Maps applied to each element before it is summed.
struct IdentityMap {
  template <class T> FG_HOST_DEVICE T operator()(T v) const { return v; }
};
struct NanToZeroMap {
  template <class T> FG_HOST_DEVICE T operator()(T v) const { return v != v ? T(0) : v; }
};

// Sum and mean: double for floats, wrapping uint64 for integers, "or" for bool.
template <class T, class Map = IdentityMap, bool Mean = false>
struct SumOp {
  using Acc = std::conditional_t<kIsFloat<T>, double,
                                 std::conditional_t<std::is_same_v<T, bool>, bool, uint64_t>>;
  Map map;
  FG_HOST_DEVICE Acc init() const { return Acc(0); }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if constexpr (std::is_same_v<T, bool>) return a || b;
    else return a + b;
  }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const {
    if constexpr (kIsFloat<T>) return a + static_cast<double>(map(v));
    else if constexpr (std::is_same_v<T, bool>) return a || v;
    else return a + static_cast<uint64_t>(map(v));
  }
  FG_HOST_DEVICE T finish(Acc a, int64_t n) const {
    if constexpr (Mean) return static_cast<T>(a / static_cast<double>(n));
    else return static_cast<T>(a);
  }
};

template <class T>
struct ProdOp {
  using Acc = std::conditional_t<kIsFloat<T>, double,
                                 std::conditional_t<std::is_same_v<T, bool>, bool, uint64_t>>;
  FG_HOST_DEVICE Acc init() const { return Acc(1); }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if constexpr (std::is_same_v<T, bool>) return a && b;
    else return a * b;
  }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const { return merge(a, static_cast<Acc>(v)); }
  FG_HOST_DEVICE T finish(Acc a, int64_t) const { return static_cast<T>(a); }
};

// any (Want = true): some element is nonzero; all (Want = false): none is zero.
template <class T, bool Want>
struct FindOp {
  using Acc = uint32_t;  // 1: found
  FG_HOST_DEVICE Acc init() const { return 0; }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const { return a | b; }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const {
    return a | static_cast<Acc>((v != T(0)) == Want);
  }
  FG_HOST_DEVICE bool finish(Acc a, int64_t) const { return Want ? a != 0 : a == 0; }
};

template <class T>
struct CountNonzeroOp {
  using Acc = int64_t;
  FG_HOST_DEVICE Acc init() const { return 0; }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const { return a + b; }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const { return a + (v != T(0)); }
  FG_HOST_DEVICE int64_t finish(Acc a, int64_t) const { return a; }
};

// The extreme and its index: the first NaN wins, then the first extreme (the
// lower index on ties, whichever partial holds it), as PyTorch's argmax.
template <class T>
struct ValueIndex {
  T v;
  int64_t i;  // -1: empty
};

template <class T, bool IsMax, bool ReturnValue = false>
struct ArgOp {
  using Acc = ValueIndex<T>;
  FG_HOST_DEVICE Acc init() const { return {T(0), -1}; }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) return an && bn ? (a.i < b.i ? a : b) : (an ? a : b);
    if (IsMax ? b.v > a.v : b.v < a.v) return b;
    if (a.v == b.v && b.i < a.i) return b;
    return a;
  }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t i) const { return merge(a, Acc{v, i}); }
  FG_HOST_DEVICE auto finish(Acc a, int64_t) const {
    if constexpr (ReturnValue) return a.v;
    else return a.i;
  }
};

// var / std: Welford's running (count, mean, M2), partials joined with Chan
// et al.'s update -- one pass, no cancellation when the mean is large.
struct Moments {
  double n, mean, m2;
};

template <class T>
struct VarOp {
  using Acc = Moments;
  double correction;
  bool take_sqrt;
  FG_HOST_DEVICE Acc init() const { return {0.0, 0.0, 0.0}; }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    const double n = a.n + b.n, d = b.mean - a.mean;
    return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
  }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const {
    const double x = static_cast<double>(v), n = a.n + 1, d = x - a.mean;
    const double mean = a.mean + d / n;
    return {n, mean, a.m2 + d * (x - mean)};
  }
  FG_HOST_DEVICE T finish(Acc a, int64_t n) const {
    double den = static_cast<double>(n) - correction;
    const double v = a.m2 / (den > 0 ? den : 0.0);  // 0 / 0: nan, as on the CPU
    return static_cast<T>(take_sqrt ? std::sqrt(v) : v);
  }
};

// logsumexp: a running max m and s = sum exp(x - m), rescaled when m grows.
// NaN inputs make s NaN; an infinite m shifts by 0 as the CPU row does (all
// -inf gives -inf, a +inf gives +inf).
struct MaxSum {
  double m, s;
};

template <class T>
struct LogSumExpOp {
  using Acc = MaxSum;
  FG_HOST_DEVICE Acc init() const { return {-INFINITY, 0.0}; }
  FG_HOST_DEVICE static double rescale(Acc a, double m) {
    return a.m == m ? a.s : a.s * std::exp(a.m - m);
  }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    const double m = a.m > b.m ? a.m : b.m;
    return {m, rescale(a, m) + rescale(b, m)};
  }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const {
    const double x = static_cast<double>(v);
    if (x != x) return {a.m, NAN};
    return merge(a, Acc{x, 1.0});
  }
  FG_HOST_DEVICE T finish(Acc a, int64_t) const { return static_cast<T>(a.m + std::log(a.s)); }
};

// Vector p-norms; the kind is picked once on the host (uniform branch).
enum class NormKind : int32_t { Zero, One, Two, Inf, NegInf, General };

FG_HOST_DEVICE NormKind norm_kind(double p) {
  if (p == 0) return NormKind::Zero;
  if (p == 1) return NormKind::One;
  if (p == 2) return NormKind::Two;
  if (p == INFINITY) return NormKind::Inf;
  if (p == -INFINITY) return NormKind::NegInf;
  return NormKind::General;
}

template <class T>
struct NormOp {
  using Acc = double;
  double p;
  NormKind kind;
  FG_HOST_DEVICE Acc init() const {
    return kind == NormKind::NegInf ? INFINITY : 0.0;  // |x| >= 0: 0 is max's identity
  }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if (kind == NormKind::Inf || kind == NormKind::NegInf) {
      if (a != a) return a;
      if (b != b) return b;
      return kind == NormKind::Inf ? (a > b ? a : b) : (a < b ? a : b);
    }
    return a + b;
  }
  FG_HOST_DEVICE Acc step(Acc a, T v, int64_t) const {
    const double x = std::fabs(static_cast<double>(v));
    switch (kind) {
      case NormKind::Zero: return a + (x != 0 ? 1.0 : 0.0);
      case NormKind::One: return a + x;
      case NormKind::Two: return a + x * x;
      case NormKind::General: return a + std::pow(x, p);
      default: return merge(a, x);
    }
  }
  FG_HOST_DEVICE T finish(Acc a, int64_t) const {
    if (kind == NormKind::Two) return static_cast<T>(std::sqrt(a));
    if (kind == NormKind::General) return static_cast<T>(std::pow(a, 1.0 / p));
    return static_cast<T>(a);
  }
};

// Inclusive scans (cumsum / cumprod) in the CPU's accumulator: double for
// floats, wrapping uint64 for integers.
template <class T, bool IsProd>
struct ScanOp {
  using Acc = std::conditional_t<kIsFloat<T>, double,
                                 std::conditional_t<std::is_same_v<T, bool>, bool, uint64_t>>;
  FG_HOST_DEVICE Acc init() const { return Acc(IsProd ? 1 : 0); }
  FG_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if constexpr (std::is_same_v<T, bool>) return IsProd ? (a && b) : (a || b);
    else return IsProd ? a * b : a + b;
  }
  FG_HOST_DEVICE Acc lift(T v) const { return static_cast<Acc>(v); }
  FG_HOST_DEVICE T finish(Acc a) const { return static_cast<T>(a); }
};

// The partial of thread t of `threads` cooperating on elements [begin, end)
// of a run p[i * s]: the loop every reduction kernel runs per thread (strided
// by `threads`, so neighbouring threads read neighbouring elements).
template <class Op, class T>
FG_HOST_DEVICE typename Op::Acc thread_partial(const Op& op, const T* p, int64_t s,
                                               int64_t begin, int64_t end, int t,
                                               int threads) {
  typename Op::Acc a = op.init();
  for (int64_t i = begin + t; i < end; i += threads) a = op.step(a, p[i * s], i);
  return a;
}

}  // namespace fastgrad::math
