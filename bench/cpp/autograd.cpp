// The tape's cost per node: a chain of N scalar ops (alternating * 1.01 and
// + 0.1, as compare.py's "10-op scalar chain") on a 4-element tensor.
// Recording and backward are timed separately; "per_node" is the time per op.
// The same chain without requires_grad is the baseline: the op itself.
#include "autograd/engine.h"
#include "bench_common.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"

namespace fastgrad::bench {
namespace {

Tensor chain(const Tensor& x, int64_t n) {
  Tensor y = x;
  for (int64_t i = 0; i < n; ++i) y = (i % 2 == 0) ? mul(y, Scalar(1.01)) : add(y, Scalar(0.1));
  return y;
}

void set_per_node(benchmark::State& state) {
  state.counters["per_node"] = benchmark::Counter(
      static_cast<double>(state.range(0)),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_chain_no_grad(benchmark::State& state) {
  Tensor x = randn_f32({4});
  for (auto _ : state) benchmark::DoNotOptimize(chain(x, state.range(0)));
  set_per_node(state);
}

// Recording (ops + nodes); freeing the graph is left out of the timing.
void BM_tape_record(benchmark::State& state) {
  Tensor x = leaf(randn_f32({4}));
  for (auto _ : state) {
    Tensor y = chain(x, state.range(0));
    state.PauseTiming();
    y = Tensor();
    state.ResumeTiming();
  }
  set_per_node(state);
}

// backward() over a freshly recorded chain (recording is not timed).
void BM_tape_backward(benchmark::State& state) {
  Tensor x = leaf(randn_f32({4}));
  Tensor seed = ones({4}, DType::Float32, Device{});
  for (auto _ : state) {
    state.PauseTiming();
    x.impl()->grad.reset();
    Tensor y = chain(x, state.range(0));
    state.ResumeTiming();
    autograd::run_backward({y}, {seed}, {});
    state.PauseTiming();
    y = Tensor();
    state.ResumeTiming();
  }
  set_per_node(state);
}

#define LENGTHS Arg(10)->Arg(100)->Arg(1000)
BENCHMARK(BM_chain_no_grad)->LENGTHS;
BENCHMARK(BM_tape_record)->LENGTHS;
BENCHMARK(BM_tape_backward)->LENGTHS;

}  // namespace
}  // namespace fastgrad::bench
