// conv2d forward, and forward + backward through the tape, for a small layer
// and the ResNet-style (32, 64, 56, 56) x 64 3x3 layer of compare.py.
#include "autograd/engine.h"
#include "bench_common.h"
#include "ops/conv_ops.h"

namespace fastgrad::bench {
namespace {

struct ConvCase {
  Tensor x, w, b;
  double flops;  // forward; backward is twice that (input and weight grads)
};

// args: batch, in channels, out channels, height (= width); 3x3, padding 1.
ConvCase make_case(const benchmark::State& state, bool requires_grad) {
  const int64_t n = state.range(0), c = state.range(1), o = state.range(2), hw = state.range(3);
  ConvCase k{randn_f32({n, c, hw, hw}), randn_f32({o, c, 3, 3}), randn_f32({o}),
             2.0 * n * o * c * 9 * hw * hw};
  if (requires_grad) {
    for (Tensor* p : {&k.x, &k.w, &k.b}) leaf(*p);
  }
  return k;
}

Tensor conv(const ConvCase& k) {
  return conv2d_nn(k.x, k.w, k.b, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
}

void BM_conv2d_forward(benchmark::State& state) {
  ConvCase k = make_case(state, false);
  for (auto _ : state) benchmark::DoNotOptimize(conv(k));
  set_flops(state, k.flops);
}

void BM_conv2d_forward_backward(benchmark::State& state) {
  ConvCase k = make_case(state, true);
  Tensor grad_out;
  for (auto _ : state) {
    for (Tensor* p : {&k.x, &k.w, &k.b}) p->impl()->grad.reset();
    Tensor y = conv(k);
    if (!grad_out.defined()) grad_out = randn_f32(y.sizes());
    autograd::run_backward({y}, {grad_out}, {});
  }
  set_flops(state, 3 * k.flops);
}

#define SHAPES Args({8, 16, 16, 28})->Args({32, 64, 64, 56})->Unit(benchmark::kMillisecond)
BENCHMARK(BM_conv2d_forward)->SHAPES;
BENCHMARK(BM_conv2d_forward_backward)->SHAPES;

}  // namespace
}  // namespace fastgrad::bench
