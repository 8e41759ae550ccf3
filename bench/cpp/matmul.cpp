// GEMM shapes through fastgrad's matmul: square n x n, with either operand a
// transposed view (BLAS reads it without a copy), and a batched product.
#include "bench_common.h"
#include "ops/linalg_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad::bench {
namespace {

// which: 0 = A @ B, 1 = A.T @ B, 2 = A @ B.T
void mm_bench(benchmark::State& state, int which) {
  const int64_t n = state.range(0);
  Tensor a = randn_f32({n, n}), b = randn_f32({n, n});
  if (which == 1) a = t(a);
  if (which == 2) b = t(b);
  for (auto _ : state) benchmark::DoNotOptimize(mm(a, b));
  set_flops(state, 2.0 * n * n * n);
}

void BM_mm(benchmark::State& state) { mm_bench(state, 0); }
void BM_mm_a_transposed(benchmark::State& state) { mm_bench(state, 1); }
void BM_mm_b_transposed(benchmark::State& state) { mm_bench(state, 2); }

void BM_bmm(benchmark::State& state) {
  const int64_t batch = state.range(0), n = state.range(1);
  Tensor a = randn_f32({batch, n, n}), b = randn_f32({batch, n, n});
  for (auto _ : state) benchmark::DoNotOptimize(bmm(a, b));
  set_flops(state, 2.0 * batch * n * n * n);
}

#define SIZES RangeMultiplier(2)->Range(64, 1024)
BENCHMARK(BM_mm)->SIZES;
BENCHMARK(BM_mm_a_transposed)->SIZES;
BENCHMARK(BM_mm_b_transposed)->SIZES;
BENCHMARK(BM_bmm)->Args({32, 128})->Args({256, 32});

}  // namespace
}  // namespace fastgrad::bench
