// Helpers shared by the microbenchmarks: float32 tensors filled with
// N(0, 1) from a fixed seed, and the counters every file reports.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>

#include "core/tensor.h"
#include "ops/factory_ops.h"

namespace fastgrad::bench {

inline Tensor randn_f32(const Shape& shape) {
  return randn(shape, DType::Float32, Device{}, nullptr);
}

// Marks `t` as a leaf that requires grad (what requires_grad_() does).
inline Tensor leaf(Tensor t) {
  t.impl()->requires_grad = true;
  return t;
}

// Bytes moved per iteration -> GB/s in the report.
inline void set_bytes(benchmark::State& state, int64_t bytes_per_iter) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iter);
}

// Floating-point work per iteration -> a "FLOPS=69.2G/s" column.
inline void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOPS"] =
      benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace fastgrad::bench
