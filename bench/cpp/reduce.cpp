// Reductions: sum over the last (contiguous) dim, over the first (strided)
// dim, and over everything, for a few (rows, cols) shapes.
#include "bench_common.h"
#include "ops/reduce_ops.h"

namespace fastgrad::bench {
namespace {

void reduce_bench(benchmark::State& state, DimList dim) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Tensor x = randn_f32({rows, cols});
  for (auto _ : state) benchmark::DoNotOptimize(sum(x, dim));
  set_bytes(state, rows * cols * 4);
}

void BM_sum_last_dim(benchmark::State& state) { reduce_bench(state, std::vector<int64_t>{-1}); }
void BM_sum_first_dim(benchmark::State& state) { reduce_bench(state, std::vector<int64_t>{0}); }
void BM_sum_all(benchmark::State& state) { reduce_bench(state, std::nullopt); }

#define SHAPES Args({64, 64})->Args({4096, 1024})->Args({1024, 4096})->Args({65536, 16})
BENCHMARK(BM_sum_last_dim)->SHAPES;
BENCHMARK(BM_sum_first_dim)->SHAPES;
BENCHMARK(BM_sum_all)->SHAPES;

}  // namespace
}  // namespace fastgrad::bench
