// Statistics and norms: var, std, logsumexp, norm. All compute in double and
// are floating-point only (logsumexp promotes integer inputs like PyTorch).
#include <cmath>
#include <limits>

#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/reduce.h"

namespace fastgrad {

namespace {

struct Identity { template <class T> double operator()(T v) const { return v; } };

// Two passes (mean, then squared deviations) instead of sum of squares:
// no cancellation when the mean is large relative to the spread.
struct VarRow {
  double correction;
  bool take_sqrt;
  // CUDA: one Welford pass with Chan's merge (math/reduce.h).
  template <class T> math::VarOp<T> combiner() const { return {correction, take_sqrt}; }
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    double mean = cpu::pairwise_sum<double>(p, s, n, Identity{}) / static_cast<double>(n);
    double ss = cpu::pairwise_sum<double>(p, s, n, [mean](T v) {
      double d = v - mean;
      return d * d;
    });
    double v = ss / std::max(0.0, static_cast<double>(n) - correction);
    return static_cast<T>(take_sqrt ? std::sqrt(v) : v);
  }
};

// m + log(sum(exp(x - m))) with m the row max; an infinite m shifts by 0 so
// that all -inf rows give -inf and rows holding +inf give +inf.
struct LogSumExpRow {
  template <class T> math::LogSumExpOp<T> combiner() const { return {}; }
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max<double>(m, p[i * s]);
    double shift = std::isinf(m) ? 0.0 : m;
    double sum = cpu::pairwise_sum<double>(p, s, n, [shift](T v) { return std::exp(v - shift); });
    return static_cast<T>(shift + std::log(sum));
  }
};

// Vector p-norms; the branch on p is taken once per row.
struct NormRow {
  double p;
  template <class T> math::NormOp<T> combiner() const { return {p, math::norm_kind(p)}; }
  template <class T> T operator()(const T* x, int64_t s, int64_t n) const {
    auto sum = [&](auto map) { return cpu::pairwise_sum<double>(x, s, n, map); };
    double r;
    if (p == 0) {
      r = sum([](T v) { return v != T(0) ? 1.0 : 0.0; });
    } else if (p == 1) {
      r = sum([](T v) { return std::fabs(static_cast<double>(v)); });
    } else if (p == 2) {
      r = std::sqrt(sum([](T v) { return static_cast<double>(v) * v; }));
    } else if (std::isinf(p)) {
      r = std::fabs(static_cast<double>(x[0]));  // rows are non-empty here
      for (int64_t i = 1; i < n && r == r; ++i) {
        double a = std::fabs(static_cast<double>(x[i * s]));
        r = a != a ? a : p > 0 ? std::max(r, a) : std::min(r, a);
      }
    } else {
      double q = p;
      r = std::pow(sum([q](T v) { return std::pow(std::fabs(static_cast<double>(v)), q); }),
                   1.0 / q);
    }
    return static_cast<T>(r);
  }
};

template <class Row>
Tensor float_rows(const char* op, const Tensor& x, const std::vector<bool>& mask,
                  bool keepdim, const Row& row) {
  if (is_16bit_float(x.dtype()))
    return to_dtype_nograd(
        float_rows(op, to_dtype_nograd(x, DType::Float32), mask, keepdim, row), x.dtype());
  return dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T>(op, x, mask, keepdim, row);
  });
}

Tensor var_impl(const char* op, const Tensor& x, const DimList& dim, double correction,
                bool keepdim, bool take_sqrt) {
  FG_CHECK(is_floating(x.dtype()), op,
           ": std and var only support floating point and complex dtypes, got ", x.dtype());
  auto mask = reduce_mask(op, x, dim);
  Tensor out = float_rows(op, x, mask, keepdim, VarRow{correction, take_sqrt});
  // d var / d x = 2 (x - mean) / (N - correction); std divides by 2 std,
  // with PyTorch's 0 where std is 0.
  maybe_record(take_sqrt ? "StdBackward" : "VarBackward", {x}, {out}, {x, out},
               [mask, correction, take_sqrt](const FunctionNode& n, const Tensors& gs) {
                 Tensor x = n.saved(0);
                 Tensor g = gs[0];
                 if (take_sqrt) {
                   Tensor y = n.saved(1);
                   g = where(eq(y, 0), 0.0, div(g, mul(y, 2)));
                 }
                 double denom = std::max(0.0, reduced_count(x.sizes(), mask) - correction);
                 Tensor centered = sub(x, mean(x, mask_dims(mask), /*keepdim=*/true));
                 return Tensors{
                     mul(expand_reduced(g, x.sizes(), mask), mul(centered, 2.0 / denom))};
               });
  return out;
}

// Vector p-norm gradients (x: the input in the computed dtype, y the norm,
// both put back to x's shape where needed). Zero norms get gradient 0 like
// PyTorch; inf norms share the gradient among the elements attaining them.
Tensor norm_backward(const Tensor& g, const Tensor& x, const Tensor& y, double p,
                     const std::vector<bool>& mask) {
  const Shape& full = x.sizes();
  if (p == 0) return Tensor();  // piecewise constant: no gradient (x.grad stays None)
  if (p == 1) return mul(expand_reduced(g, full, mask), sign(x));
  if (std::isinf(p)) {
    Tensor a = abs(x);
    Tensor hit = logical_or(eq(a, expand_reduced(y, full, mask)), isnan(a));
    Tensor count = sum(hit, mask_dims(mask), /*keepdim=*/true);
    return mul(mul(sign(x), hit), div(expand_reduced(g, full, mask), count));
  }
  if (p < 1) {
    // |x|^(p-1) is infinite at 0: those elements get 0.
    Tensor scaled = mul(sign(x), where(eq(x, 0), 0.0, pow(abs(x), p - 1)));
    return mul(scaled, expand_reduced(mul(g, pow(y, 1 - p)), full, mask));
  }
  Tensor scale = where(eq(y, 0), 0.0, div(g, p == 2 ? y : pow(y, p - 1)));
  Tensor scaled = p == 2 ? x : mul(sign(x), pow(abs(x), p - 1));
  return mul(scaled, expand_reduced(scale, full, mask));
}

}  // namespace

Tensor var(const Tensor& x, const DimList& dim, double correction, bool keepdim) {
  return var_impl("var", x, dim, correction, keepdim, false);
}

Tensor stddev(const Tensor& x, const DimList& dim, double correction, bool keepdim) {
  return var_impl("std", x, dim, correction, keepdim, true);
}

Tensor logsumexp(const Tensor& x, const DimList& dim, bool keepdim) {
  auto mask = reduce_mask("logsumexp", x, dim);
  Tensor xf = to_dtype(x, to_float_dtype(x.dtype()));
  Tensor out = float_rows("logsumexp", xf, mask, keepdim, LogSumExpRow{});
  maybe_record("LogsumexpBackward", {xf}, {out}, {xf, out},
               [mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor x = n.saved(0);
                 Tensor y = expand_reduced(n.saved(1), x.sizes(), mask);
                 return {mul(expand_reduced(gs[0], x.sizes(), mask), exp(sub(x, y)))};
               });
  return out;
}

Tensor norm(const Tensor& x, std::optional<double> p, const DimList& dim, bool keepdim,
            OptDType dtype) {
  FG_CHECK(is_floating(x.dtype()),
           "norm: Expected a floating point or complex tensor as input. Got ", x.dtype());
  if (dtype)
    FG_CHECK(is_floating(*dtype), "norm: dtype must be a floating point type, got ", *dtype);
  // PyTorch treats 'fro' over dims as a matrix norm: at most 2 of them.
  FG_CHECK(p || !dim || dim->size() <= 2,
           "norm: 'fro' is a matrix norm here: dim must be a 2-tuple, got ", dim ? dim->size() : 0,
           " dims");
  double order = p.value_or(2.0);
  auto mask = reduce_mask("norm", x, dim);
  if (std::isinf(order)) {
    FG_CHECK(x.numel() != 0 || (dim && !dim->empty()),
             "norm: cannot compute the inf norm on an empty tensor because the "
             "operation does not have an identity");
    for (int64_t d = 0; d < x.dim(); ++d)
      FG_CHECK(!mask[d] || x.sizes()[d] != 0, "norm: cannot compute the inf norm on "
               "the dimension ", d, " because this dimension is empty and the operation "
               "does not have an identity");
  }
  Tensor xc = to_dtype(x, dtype.value_or(x.dtype()));
  Tensor out = float_rows("norm", xc, mask, keepdim, NormRow{order});
  maybe_record("NormBackward", {xc}, {out}, {xc, out},
               [order, mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {norm_backward(gs[0], n.saved(0), n.saved(1), order, mask)};
               });
  return out;
}

}  // namespace fastgrad
