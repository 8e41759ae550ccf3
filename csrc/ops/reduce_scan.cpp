// Ops along one dim that produce a full line per input line: cumsum, cumprod,
// softmax, log_softmax. Each is a line functor for map_lines().
#include <cmath>
#include <limits>

#include "ops/reduce.h"

namespace fastgrad {

namespace {

// Running sum / product in acc_t (double for floats; integers wrap).
template <bool IsProd>
struct ScanLine {
  template <class T>
  void operator()(const T* x, int64_t xs, T* y, int64_t ys, int64_t n) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      uint64_t acc = IsProd ? 1 : 0;
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v = static_cast<uint64_t>(x[i * xs]);
        acc = IsProd ? acc * v : acc + v;
        y[i * ys] = static_cast<T>(acc);
      }
    } else {
      acc_t<T> acc = IsProd ? 1 : 0;
      for (int64_t i = 0; i < n; ++i) {
        acc = IsProd ? acc * x[i * xs] : acc + x[i * xs];
        y[i * ys] = static_cast<T>(acc);
      }
    }
  }
};

// exp(x - max) / sum, or its log: the shift keeps exp() from overflowing.
// exp() runs once per element in T (the output buffer holds it between
// passes); only the sum is kept in double.
template <bool Log>
struct SoftmaxLine {
  template <class T>
  void operator()(const T* x, int64_t xs, T* y, int64_t ys, int64_t n) const {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i * xs]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      T e = std::exp(x[i * xs] - m);
      if constexpr (!Log) y[i * ys] = e;
      sum += e;
    }
    if constexpr (Log) {
      // (x - m) - log(sum): subtracting m first keeps large inputs exact.
      T log_sum = static_cast<T>(std::log(sum));
      for (int64_t i = 0; i < n; ++i) y[i * ys] = (x[i * xs] - m) - log_sum;
    } else {
      T inv = static_cast<T>(1.0 / sum);
      for (int64_t i = 0; i < n; ++i) y[i * ys] *= inv;
    }
  }
};

template <bool IsProd>
Tensor scan(const char* op, const Tensor& x, int64_t dim, OptDType dtype) {
  int64_t d = wrap_dim(dim, x.dim(), op);
  DType out = dtype.value_or(is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  Tensor xi = to_dtype(x, out);
  return dispatch(out, [&](auto tag) {
    using T = decltype(tag);
    return map_lines<T, T>(op, xi, d, ScanLine<IsProd>{});
  });
}

template <bool Log>
Tensor softmax_impl(const char* op, const Tensor& x, int64_t dim, OptDType dtype) {
  int64_t d = wrap_dim(dim, x.dim(), op);
  DType compute = dtype.value_or(x.dtype());
  if (!is_floating(compute))
    fail<NotImplementedError>(op, ": not implemented for ", compute,
                              " (pass a floating dtype=)");
  Tensor xi = to_dtype(x, compute);
  return dispatch_float(compute, op, [&](auto tag) {
    using T = decltype(tag);
    return map_lines<T, T>(op, xi, d, SoftmaxLine<Log>{});
  });
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim, OptDType dtype) {
  return scan<false>("cumsum", x, dim, dtype);
}
Tensor cumprod(const Tensor& x, int64_t dim, OptDType dtype) {
  return scan<true>("cumprod", x, dim, dtype);
}
Tensor softmax(const Tensor& x, int64_t dim, OptDType dtype) {
  return softmax_impl<false>("softmax", x, dim, dtype);
}
Tensor log_softmax(const Tensor& x, int64_t dim, OptDType dtype) {
  return softmax_impl<true>("log_softmax", x, dim, dtype);
}

}  // namespace fastgrad
