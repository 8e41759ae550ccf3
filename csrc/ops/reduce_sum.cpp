// Additive and logical reductions: sum, nansum, mean, prod, all, any,
// count_nonzero. Each op is a row functor; reduce_rows() does the rest.
#include <cmath>

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

struct Identity { template <class T> T operator()(T v) const { return v; } };
struct NanToZero { template <class T> T operator()(T v) const { return v != v ? T(0) : v; } };

template <class Map>
struct SumRow {
  Map map;
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
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    // 0 / 0 gives PyTorch's nan for an empty mean.
    return static_cast<T>(cpu::pairwise_sum<double>(p, s, n, Identity{}) /
                          static_cast<double>(n));
  }
};

struct ProdRow {
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
  template <class T> bool operator()(const T* p, int64_t s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i)
      if ((p[i * s] != T(0)) == Want) return Want;
    return !Want;
  }
};

struct CountNonzeroRow {
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
  return run("sum", x, reduce_mask("sum", x, dim), keepdim, sum_dtype(x, dtype),
             SumRow<Identity>{});
}

Tensor nansum(const Tensor& x, const DimList& dim, bool keepdim, OptDType dtype) {
  return run("nansum", x, reduce_mask("nansum", x, dim), keepdim, sum_dtype(x, dtype),
             SumRow<NanToZero>{});
}

Tensor mean(const Tensor& x, const DimList& dim, bool keepdim, OptDType dtype) {
  if (dtype)
    FG_CHECK(is_floating(*dtype), "mean(): could not infer output dtype. Optional dtype "
             "must be either a floating point or complex dtype. Got: ", *dtype);
  else
    FG_CHECK(is_floating(x.dtype()), "mean(): could not infer output dtype. Input dtype "
             "must be either a floating point or complex dtype. Got: ", x.dtype());
  DType compute = dtype.value_or(x.dtype());
  Tensor xi = to_dtype(x, compute);
  return dispatch_float(compute, "mean", [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T>("mean", xi, reduce_mask("mean", x, dim), keepdim, MeanRow{});
  });
}

Tensor prod(const Tensor& x, std::optional<int64_t> dim, bool keepdim, OptDType dtype) {
  DimList dims;
  if (dim) dims = std::vector<int64_t>{*dim};
  return run("prod", x, reduce_mask("prod", x, dims), keepdim, sum_dtype(x, dtype),
             ProdRow{});
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
