// Additive and logical reductions: sum, nansum, mean, prod, all, any,
// count_nonzero. Each op is a row functor; reduce_rows() does the rest.
#include <cmath>

#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/reduce.h"

namespace fastgrad {

namespace {

template <class T> constexpr bool kFloat = std::is_floating_point_v<T>;

// Integer sums and products wrap like PyTorch's (unsigned math: no UB).
template <class T> T wrap_add(T a, T b) {
  return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
template <class T> T wrap_mul(T a, T b) {
  return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

using math::IdentityMap;
using math::NanToZeroMap;

// Each row functor names its CUDA combiner (math/reduce.h): the same
// accumulator types (double for floats, wrapping integers), merged in a tree.
template <class Map>
struct SumRow {
  Map map;
  template <class T> math::SumOp<T, Map> combiner() const { return {map}; }
  template <class T> void cols(const T* p, int64_t s, int64_t n, int64_t cnt, T* out) const {
    double acc[cpu::kColTile];
    cpu::pairwise_sum_cols<double>(p, s, n, cnt, map, acc);
    for (int64_t c = 0; c < cnt; ++c) out[c] = static_cast<T>(acc[c]);
  }
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    if constexpr (kFloat<T>) {
      return static_cast<T>(cpu::pairwise_sum<double>(p, s, n, map));
    } else if constexpr (std::is_same_v<T, bool>) {  // sum(..., dtype=bool)
      for (int64_t i = 0; i < n; ++i) if (p[i * s]) return true;
      return false;
    } else {
      T acc = 0;
      for (int64_t i = 0; i < n; ++i) acc = wrap_add(acc, p[i * s]);
      return acc;
    }
  }
};

struct MeanRow {
  template <class T> math::SumOp<T, IdentityMap, true> combiner() const { return {}; }
  template <class T> void cols(const T* p, int64_t s, int64_t n, int64_t cnt, T* out) const {
    double acc[cpu::kColTile];
    cpu::pairwise_sum_cols<double>(p, s, n, cnt, IdentityMap{}, acc);
    for (int64_t c = 0; c < cnt; ++c) out[c] = static_cast<T>(acc[c] / static_cast<double>(n));
  }
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    // 0 / 0 gives PyTorch's nan for an empty mean.
    return static_cast<T>(cpu::pairwise_sum<double>(p, s, n, IdentityMap{}) /
                          static_cast<double>(n));
  }
};
// Both take the column kernel (reduce.h) rather than the transposing copy.
static_assert(HasCols<SumRow<IdentityMap>>::value && HasCols<MeanRow>::value);

struct ProdRow {
  template <class T> math::ProdOp<T> combiner() const { return {}; }
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    if constexpr (kFloat<T>) {
      double acc = 1;
      for (int64_t i = 0; i < n; ++i) acc *= p[i * s];
      return static_cast<T>(acc);
    } else if constexpr (std::is_same_v<T, bool>) {
      for (int64_t i = 0; i < n; ++i) if (!p[i * s]) return false;
      return true;
    } else {
      T acc = 1;
      for (int64_t i = 0; i < n; ++i) acc = wrap_mul(acc, p[i * s]);
      return acc;
    }
  }
};

// all: no zero found; any: a nonzero found (early exit either way).
template <bool Want>
struct FindRow {
  template <class T> math::FindOp<T, Want> combiner() const { return {}; }
  template <class T> bool operator()(const T* p, int64_t s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i)
      if ((p[i * s] != T(0)) == Want) return Want;
    return !Want;
  }
};

struct CountNonzeroRow {
  template <class T> math::CountNonzeroOp<T> combiner() const { return {}; }
  template <class T> int64_t operator()(const T* p, int64_t s, int64_t n) const {
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) c += p[i * s] != T(0);
    return c;
  }
};

// Converts x to `compute`, then runs `row` over the reduced rows.
template <class Row>
Tensor run(const char* op, const Tensor& x, const std::vector<bool>& mask, bool keepdim,
           DType compute, const Row& row) {
  if (is_16bit_float(compute))
    return to_dtype_nograd(
        run(op, to_dtype_nograd(x, DType::Float32), mask, keepdim, DType::Float32, row), compute);
  Tensor xi = to_dtype(x, compute);
  return dispatch(compute, [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T>(op, xi, mask, keepdim, row);
  });
}

// PyTorch: integral and bool inputs accumulate in int64.
DType sum_dtype(const Tensor& x, OptDType dtype) {
  if (dtype) return *dtype;
  return is_floating(x.dtype()) ? x.dtype() : DType::Int64;
}

}  // namespace

Tensor sum(const Tensor& x, const DimList& dim, bool keepdim, OptDType dtype) {
  auto mask = reduce_mask("sum", x, dim);
  Tensor out = run("sum", x, mask, keepdim, sum_dtype(x, dtype), SumRow<IdentityMap>{});
  maybe_record("SumBackward", {x}, {out}, {},
               [mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {expand_reduced(gs[0], n.inputs[0].sizes, mask)};
               });
  return out;
}

Tensor nansum(const Tensor& x, const DimList& dim, bool keepdim, OptDType dtype) {
  auto mask = reduce_mask("nansum", x, dim);
  Tensor out = run("nansum", x, mask, keepdim, sum_dtype(x, dtype), SumRow<NanToZeroMap>{});
  // NaN inputs were skipped: they get no gradient.
  maybe_record("NansumBackward", {x}, {out}, {x},
               [mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor x = n.saved(0);
                 return {where(isnan(x), 0.0, expand_reduced(gs[0], x.sizes(), mask))};
               });
  return out;
}

Tensor mean(const Tensor& x, const DimList& dim, bool keepdim, OptDType dtype) {
  if (dtype)
    FG_CHECK(is_floating(*dtype), "mean(): could not infer output dtype. Optional dtype "
             "must be either a floating point or complex dtype. Got: ", *dtype);
  else
    FG_CHECK(is_floating(x.dtype()), "mean(): could not infer output dtype. Input dtype "
             "must be either a floating point or complex dtype. Got: ", x.dtype());
  DType compute = dtype.value_or(x.dtype());
  auto mask = reduce_mask("mean", x, dim);
  Tensor xi = is_16bit_float(compute) ? to_dtype_nograd(x, DType::Float32) : to_dtype(x, compute);
  Tensor out = dispatch_float(xi.dtype(), "mean", [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T>("mean", xi, mask, keepdim, MeanRow{});
  });
  out = to_dtype_nograd(out, compute);
  maybe_record("MeanBackward", {x}, {out}, {},
               [mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Shape& full = n.inputs[0].sizes;
                 return {div(expand_reduced(gs[0], full, mask), reduced_count(full, mask))};
               });
  return out;
}

namespace {

// d prod / d x_k is the product of the other elements. Without zeros that is
// out / x_k; with exactly one zero only the zero's position gets a gradient
// (the product of the nonzero elements); with more zeros all are 0. The
// nonzero positions use the saved output so that the second derivative
// through a single zero is right too.
Tensor prod_backward(const Tensor& g, const Tensor& x, const Tensor& out,
                     std::optional<int64_t> dim, const std::vector<bool>& mask) {
  const Shape& full = x.sizes();
  Tensor zero = eq(x, 0);
  Tensor count = sum(zero, mask_dims(mask), /*keepdim=*/true);
  Tensor x1 = where(zero, 1.0, x);
  Tensor others = prod(x1, dim, /*keepdim=*/true);  // product of the nonzeros
  Tensor at_zero = where(eq(count, 1), others, 0.0);
  Tensor at_nonzero = div(expand_reduced(out, full, mask), x1);
  return mul(expand_reduced(g, full, mask), where(zero, at_zero, at_nonzero));
}

}  // namespace

Tensor prod(const Tensor& x, std::optional<int64_t> dim, bool keepdim, OptDType dtype) {
  DimList dims;
  if (dim) dims = std::vector<int64_t>{*dim};
  auto mask = reduce_mask("prod", x, dims);
  // Recorded on the converted input: the rule works in the output dtype.
  Tensor xi = to_dtype(x, sum_dtype(x, dtype));
  Tensor out = run("prod", xi, mask, keepdim, xi.dtype(), ProdRow{});
  maybe_record("ProdBackward", {xi}, {out}, {xi, out},
               [dim, mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {prod_backward(gs[0], n.saved(0), n.saved(1), dim, mask)};
               });
  return out;
}

Tensor all(const Tensor& x, const DimList& dim, bool keepdim) {
  return run("all", x, reduce_mask("all", x, dim), keepdim, x.dtype(), FindRow<false>{});
}

Tensor any(const Tensor& x, const DimList& dim, bool keepdim) {
  return run("any", x, reduce_mask("any", x, dim), keepdim, x.dtype(), FindRow<true>{});
}

Tensor count_nonzero(const Tensor& x, const DimList& dim) {
  return run("count_nonzero", x, reduce_mask("count_nonzero", x, dim), false, x.dtype(),
             CountNonzeroRow{});
}

}  // namespace fastgrad
