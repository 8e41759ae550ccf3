// softmax over the last dim: forward, and forward + backward through the
// tape, for long rows (4096, 1024), few rows (64, 1024) and short rows.
#include "autograd/engine.h"
#include "bench_common.h"
#include "ops/reduce_ops.h"

namespace fastgrad::bench {
namespace {

void BM_softmax_forward(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Tensor x = randn_f32({rows, cols});
  for (auto _ : state) benchmark::DoNotOptimize(softmax(x, -1));
  set_bytes(state, 2 * rows * cols * 4);
}

void BM_softmax_forward_backward(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Tensor x = leaf(randn_f32({rows, cols}));
  Tensor g = randn_f32({rows, cols});
  for (auto _ : state) {
    x.impl()->grad.reset();
    autograd::run_backward({softmax(x, -1)}, {g}, {});
  }
  set_bytes(state, 5 * rows * cols * 4);  // fwd: read x, write y; bwd: read y, g, write dx
}

#define SHAPES Args({64, 1024})->Args({4096, 1024})->Args({65536, 32})
BENCHMARK(BM_softmax_forward)->SHAPES;
BENCHMARK(BM_softmax_forward_backward)->SHAPES;

}  // namespace
}  // namespace fastgrad::bench
