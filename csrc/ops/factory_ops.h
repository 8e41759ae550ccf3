// Creation ops (ops/factories.cpp) and random ops (ops/random.cpp). A dtype
// left empty is inferred the way PyTorch does; `gen == nullptr` means the
// default generator.
#pragma once
#include <optional>

#include "core/generator.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace fastgrad {

// RuntimeError naming `op` if a dimension is negative.
void check_size(const char* op, const Shape& size);

// ---- deterministic factories (ops/factories.cpp) -----------------------------
Tensor empty_op(const Shape& size, std::optional<DType> dtype, Device device);
// dtype default: bool / int64 / default float for a bool / int / float fill.
Tensor full(const Shape& size, const Scalar& fill, std::optional<DType> dtype,
            Device device);
Tensor zeros(const Shape& size, std::optional<DType> dtype, Device device);
Tensor ones(const Shape& size, std::optional<DType> dtype, Device device);
// [start, end) by step; int64 when all three are integers, else default float.
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step,
              std::optional<DType> dtype, Device device);
// `steps` evenly spaced points from start to end inclusive (default float).
Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps,
                std::optional<DType> dtype, Device device);
// n x m (m defaults to n) with ones on the diagonal.
Tensor eye(int64_t n, std::optional<int64_t> m, std::optional<DType> dtype,
           Device device);

// ---- random (ops/random.cpp) ---------------------------------------------------
// In-place fills of any layout; bump the version.
const Tensor& uniform_(const Tensor& self, double from, double to, Generator* gen);
const Tensor& normal_(const Tensor& self, double mean, double std, Generator* gen);
const Tensor& bernoulli_(const Tensor& self, double p, Generator* gen);
const Tensor& bernoulli_(const Tensor& self, const Tensor& p, Generator* gen);
// Integers in [low, high) in self's dtype (randint and Tensor.random_).
const Tensor& random_(const Tensor& self, int64_t low, int64_t high, Generator* gen);

// Floating dtypes only; dtype default: the default float dtype.
Tensor rand(const Shape& size, std::optional<DType> dtype, Device device, Generator* gen);
Tensor randn(const Shape& size, std::optional<DType> dtype, Device device, Generator* gen);
Tensor normal(double mean, double std, const Shape& size, std::optional<DType> dtype,
              Device device, Generator* gen);
// dtype default int64.
Tensor randint(int64_t low, int64_t high, const Shape& size, std::optional<DType> dtype,
               Device device, Generator* gen);
Tensor randperm(int64_t n, std::optional<DType> dtype, Device device, Generator* gen);
// 0/1 draws with probabilities `probs` (floating), same dtype as probs.
Tensor bernoulli(const Tensor& probs, Generator* gen);
// 0/1 draws with one probability p, shaped and typed like `input`.
Tensor bernoulli(const Tensor& input, double p, Generator* gen);

}  // namespace fastgrad
