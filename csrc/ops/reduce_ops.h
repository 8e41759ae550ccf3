// Public reduction ops (PyTorch names and semantics). A DimList of nullopt or
// {} reduces every dim; dims may be negative. Definitions by theme:
// reduce_sum.cpp, reduce_minmax.cpp, reduce_stats.cpp, reduce_scan.cpp.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace fastgrad {

using DimList = std::optional<std::vector<int64_t>>;
using OptDType = std::optional<DType>;

// ---- sums (reduce_sum.cpp) ---------------------------------------------------
// Integer and bool inputs sum / multiply in int64 unless `dtype` is given;
// the input is converted to `dtype` first, as in PyTorch.
Tensor sum(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false,
           OptDType dtype = std::nullopt);
Tensor nansum(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false,
              OptDType dtype = std::nullopt);
// Floating input or floating `dtype` only; mean of nothing is nan.
Tensor mean(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false,
            OptDType dtype = std::nullopt);
Tensor prod(const Tensor& x, std::optional<int64_t> dim = std::nullopt,
            bool keepdim = false, OptDType dtype = std::nullopt);
// Bool results for any input dtype.
Tensor all(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false);
Tensor any(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false);
Tensor count_nonzero(const Tensor& x, const DimList& dim = std::nullopt);

// ---- extremes (reduce_minmax.cpp) -------------------------------------------
// NaN wins (argmax points at the first NaN); ties give the first index.
Tensor max_all(const Tensor& x);
Tensor min_all(const Tensor& x);
std::pair<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min_dim(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false);
Tensor amin(const Tensor& x, const DimList& dim = std::nullopt, bool keepdim = false);
// dim = nullopt: index into the flattened tensor.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt,
              bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt,
              bool keepdim = false);

// ---- statistics and norms (reduce_stats.cpp) --------------------------------
// Divides by max(0, N - correction); floating inputs only.
Tensor var(const Tensor& x, const DimList& dim = std::nullopt, double correction = 1,
           bool keepdim = false);
Tensor stddev(const Tensor& x, const DimList& dim = std::nullopt, double correction = 1,
              bool keepdim = false);
// log(sum(exp(x))) without overflow; integer inputs compute in float.
Tensor logsumexp(const Tensor& x, const DimList& dim, bool keepdim = false);
// Vector p-norm; p = nullopt is 'fro': the 2-norm over
// all dims or over at most 2 given dims (more raise, as in PyTorch).
Tensor norm(const Tensor& x, std::optional<double> p = std::nullopt,
            const DimList& dim = std::nullopt, bool keepdim = false,
            OptDType dtype = std::nullopt);

// ---- along one dim (reduce_scan.cpp) -----------------------------------------
Tensor cumsum(const Tensor& x, int64_t dim, OptDType dtype = std::nullopt);
Tensor cumprod(const Tensor& x, int64_t dim, OptDType dtype = std::nullopt);
// Floating input or `dtype` only; the max is subtracted first.
Tensor softmax(const Tensor& x, int64_t dim, OptDType dtype = std::nullopt);
Tensor log_softmax(const Tensor& x, int64_t dim, OptDType dtype = std::nullopt);

}  // namespace fastgrad
