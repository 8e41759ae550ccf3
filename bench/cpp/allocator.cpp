// CPU allocation: a storage allocated and freed (64 B .. 64 MB), the same with
// every page touched (first-touch page faults are what make a fresh 64 MB
// output slow), and a whole empty tensor (storage + TensorImpl).
#include <cstring>

#include "bench_common.h"

namespace fastgrad::bench {
namespace {

void BM_allocate_free(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  for (auto _ : state) {
    Storage s = allocate_storage(bytes, Device{});
    benchmark::DoNotOptimize(s->data());
  }
}

void BM_allocate_touch_free(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  for (auto _ : state) {
    Storage s = allocate_storage(bytes, Device{});
    std::memset(s->data(), 0, static_cast<size_t>(bytes));
    benchmark::ClobberMemory();
  }
  set_bytes(state, bytes);
}

void BM_empty_tensor(benchmark::State& state) {
  const int64_t numel = state.range(0) / 4;
  for (auto _ : state) benchmark::DoNotOptimize(empty({numel}, DType::Float32));
}

#define SIZES RangeMultiplier(8)->Range(64, 64 << 20)
BENCHMARK(BM_allocate_free)->SIZES;
BENCHMARK(BM_allocate_touch_free)->SIZES;
BENCHMARK(BM_empty_tensor)->SIZES;

}  // namespace
}  // namespace fastgrad::bench
