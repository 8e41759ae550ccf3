// Ops along one dim that produce a full line per input line: cumsum, cumprod,
// softmax, log_softmax. Each is a line functor for map_lines().
#include <array>
#include <cmath>
#include <limits>

#include "backend/cpu/exp_lines.h"

#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/grad_utils.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

// Running sum / product in acc_t (double for floats; integers wrap).
template <bool IsProd>
struct ScanLine {
#if defined(__CUDACC__)
  template <class T>
  void cuda(const char* op, const cpu::RowLayout& in, const cpu::RowLayout& out,
            int device) const {
    cuda::scan_lines<T>(op, in, out, math::ScanOp<T, IsProd>{}, device);
  }
#endif
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
// Three passes over a line that stays in cache: max; exp (stored in y for
// softmax) with its sum in double; then the scale or the log shift.
template <bool Log>
struct SoftmaxLine {
#if defined(__CUDACC__)
  template <class T>
  void cuda(const char* op, const cpu::RowLayout& in, const cpu::RowLayout& out,
            int device) const {
    cuda::softmax_lines<Log, T>(op, in, out, device);
  }
#endif
  template <class T>
  void operator()(const T* x, int64_t xs, T* y, int64_t ys, int64_t n) const {
    const T m = cpu::max_line(x, xs, n);
    if constexpr (Log) {
      // (x - m) - log(sum): subtracting m first keeps large inputs exact.
      const T log_sum = static_cast<T>(std::log(cpu::exp_shift_sum(x, xs, m, n)));
      cpu::map_line(x, xs, y, ys, n, [m, log_sum](auto v) { return (v - m) - log_sum; });
    } else {
      const T inv = static_cast<T>(1.0 / cpu::exp_shift_store_sum(x, xs, m, y, ys, n));
      cpu::scale_line(y, ys, inv, n);
    }
  }
};

// The backward of one line, from the saved output y and the gradient g:
// softmax: (g - sum(g y)) y; log_softmax: g - e^y sum(g). A sum pass and one
// elementwise pass over the (cached) line, instead of four full-tensor ops.
template <bool Log>
struct SoftmaxBackwardLine {
  template <class T>
  void operator()(const std::array<T*, 3>& p, const std::array<int64_t, 3>& s,
                  int64_t n) const {
    const T *y = p[0], *g = p[1];
    if constexpr (Log) {
      const T sg = static_cast<T>(cpu::sum_line(g, s[1], n));
      cpu::map2_line(y, s[0], g, s[1], p[2], s[2], n, [sg](auto yv, auto gv) {
        return gv - cpu::exp_elem(yv) * sg;
      });
    } else {
      const T dot = static_cast<T>(cpu::dot_line(g, s[1], y, s[0], n));
      cpu::map2_line(y, s[0], g, s[1], p[2], s[2], n,
                     [dot](auto yv, auto gv) { return (gv - dot) * yv; });
    }
  }
};

template <bool Log>
Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t d) {
  Tensor gy = to_dtype(g, y.dtype());
  if (lines_strided(y, d))  // Note [Lines along strided dims]
    return line_major_back(
        softmax_backward<Log>(line_major(y, d), line_major(gy, d), y.dim() - 1), d);
  Tensor dx = empty(y.sizes(), y.dtype(), y.device());
  if (y.numel() == 0) return dx;
  auto Ly = cpu::make_line_layout(y, d), Lg = cpu::make_line_layout(gy, d),
       Ld = cpu::make_line_layout(dx, d);
  dispatch_float(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    cpu::for_each_lines<T, 2, 3>({&Ly, &Lg, &Ld}, SoftmaxBackwardLine<Log>{});
  });
  return dx;
}

// sum_{j >= i} g_j along d: the backward of cumsum.
Tensor reverse_cumsum(const Tensor& g, int64_t d) {
  if (g.dim() == 0) return g;
  return flip(cumsum(flip(g, {d}), d), {d});
}

// d y_j / d x_k = prod_{i <= j, i != k} x_i for j >= k. Without zeros that is
// y_j / x_k, so grad_k = reverse_cumsum(g * y)_k / x_k. With zeros the
// division is invalid: each k is then done exactly, as the cumprod of x with
// x_k replaced by 1 (O(n) scans of the line; only taken when x has a zero).
Tensor cumprod_backward(const Tensor& g, const Tensor& x, const Tensor& y, int64_t d) {
  if (x.dim() == 0) return g;
  bool has_zero;
  {
    autograd::GradModeGuard no_grad(false);
    has_zero = *contiguous(any(eq(x, 0))).data<bool>();
  }
  if (!has_zero) return div(reverse_cumsum(mul(g, y), d), x);
  const int64_t n = x.sizes()[d];
  Shape line(x.dim(), 1);
  line[d] = n;
  Tensor pos = reshape(arange(0, n, 1, DType::Int64, x.device()), line);
  Tensor grad;
  for (int64_t k = 0; k < n; ++k) {
    Tensor at_k = eq(pos, k);
    Tensor partial = cumprod(where(at_k, 1.0, x), d);
    Tensor gk = sum(mul(mul(g, partial), ge(pos, k)), std::vector<int64_t>{d}, true);
    Tensor term = where(at_k, gk, 0.0);
    grad = grad.defined() ? add(grad, term) : term;
  }
  return grad;
}

template <bool IsProd>
Tensor scan(const char* op, const Tensor& x, int64_t dim, OptDType dtype) {
  int64_t d = wrap_dim(dim, x.dim(), op);
  DType out_dtype = dtype.value_or(is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  if (is_16bit_float(out_dtype))  // computes in float32, recorded through the casts
    return to_dtype(scan<IsProd>(op, x, dim, DType::Float32), out_dtype);
  Tensor xi = to_dtype(x, out_dtype);
  Tensor out = dispatch(out_dtype, [&](auto tag) {
    using T = decltype(tag);
    return map_lines<T>(op, xi, d, ScanLine<IsProd>{});
  });
  if (IsProd)
    maybe_record("CumprodBackward", {xi}, {out}, {xi, out},
                 [d](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   return {cumprod_backward(gs[0], n.saved(0), n.saved(1), d)};
                 });
  else
    maybe_record("CumsumBackward", {xi}, {out}, {},
                 [d](const FunctionNode&, const Tensors& gs) -> Tensors {
                   return {reverse_cumsum(gs[0], d)};
                 });
  return out;
}

template <bool Log>
Tensor softmax_impl(const char* op, const Tensor& x, int64_t dim, OptDType dtype) {
  int64_t d = wrap_dim(dim, x.dim(), op);
  DType compute = dtype.value_or(x.dtype());
  if (!is_floating(compute))
    fail<NotImplementedError>(op, ": not implemented for ", compute,
                              " (pass a floating dtype=)");
  if (is_16bit_float(compute))  // computes in float32, recorded through the casts
    return to_dtype(softmax_impl<Log>(op, x, dim, DType::Float32), compute);
  Tensor xi = to_dtype(x, compute);
  Tensor out = dispatch_float(compute, op, [&](auto tag) {
    using T = decltype(tag);
    return map_lines<T>(op, xi, d, SoftmaxLine<Log>{});
  });
  // softmax: y (g - sum(g y)); log_softmax: g - exp(y) sum(g), sums along d.
  maybe_record(Log ? "LogSoftmaxBackward" : "SoftmaxBackward", {xi}, {out}, {out},
               [d](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor y = n.saved(0);
                 const Tensor& g = gs[0];
                 // One fused kernel, unless the gradient must be differentiable.
                 if (!autograd::grad_enabled() && y.device().is_cpu())
                   return {softmax_backward<Log>(y, g, d)};
                 std::vector<int64_t> dims;
                 if (y.dim() > 0) dims.push_back(d);
                 if (Log) return {sub(g, mul(exp(y), sum(g, dims, true)))};
                 return {mul(y, sub(g, sum(mul(g, y), dims, true)))};
               });
  return out;
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
