// Elementwise throughput: the same binary op over contiguous, transposed and
// broadcast operands, in place vs into a fresh output (the allocator's share),
// and exp (the vectorised transcendental path). Sizes 1K .. 16M elements.
#include "bench_common.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad::bench {
namespace {

// Square shapes (every size in the range is a power of 4), so the transposed
// variant reads a real 2-d transpose.
Shape square(int64_t n) {
  int64_t side = 1;
  while (side * side < n) side *= 2;
  return {side, n / side};
}

void BM_add_contiguous(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn_f32({n}), b = randn_f32({n});
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b));
  set_bytes(state, 3 * n * 4);
}

void BM_add_inplace(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn_f32({n}), b = randn_f32({n});
  for (auto _ : state) benchmark::DoNotOptimize(add_(a, b));
  set_bytes(state, 3 * n * 4);
}

void BM_add_transposed(benchmark::State& state) {
  const Shape s = square(state.range(0));
  Tensor a = transpose(randn_f32({s[1], s[0]}), 0, 1), b = randn_f32(s);
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b));
  set_bytes(state, 3 * state.range(0) * 4);
}

void BM_add_broadcast_row(benchmark::State& state) {
  const int64_t n = state.range(0), cols = 1024;
  Tensor a = randn_f32({n / cols, cols}), b = randn_f32({cols});
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b));
  set_bytes(state, 2 * n * 4);
}

void BM_exp_contiguous(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn_f32({n});
  for (auto _ : state) benchmark::DoNotOptimize(exp(a));
  set_bytes(state, 2 * n * 4);
}

void BM_copy_transposed(benchmark::State& state) {
  const Shape s = square(state.range(0));
  Tensor a = transpose(randn_f32(s), 0, 1);
  for (auto _ : state) benchmark::DoNotOptimize(contiguous(a));
  set_bytes(state, 2 * state.range(0) * 4);
}

#define SIZES RangeMultiplier(16)->Range(1 << 10, 1 << 24)
BENCHMARK(BM_add_contiguous)->SIZES;
BENCHMARK(BM_add_inplace)->SIZES;
BENCHMARK(BM_add_transposed)->SIZES;
BENCHMARK(BM_add_broadcast_row)->SIZES;
BENCHMARK(BM_exp_contiguous)->SIZES;
BENCHMARK(BM_copy_transposed)->SIZES;

}  // namespace
}  // namespace fastgrad::bench
