// Row-element kernels: f(r, j) for every element j < H of N batch rows, one
// thread per element, on the current stream. Runs the element functors of
// math/rnn.h (the fused LSTM / GRU cells). Included only by translation
// units nvcc compiles.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"

namespace fastgrad::cuda {

template <class F>
__global__ void __launch_bounds__(256) row_elements_kernel(int64_t n, int64_t H, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    f(i / H, i % H);
}

template <class F>
void launch_row_elements(const char* op, int device, int64_t N, int64_t H, const F& f) {
  const int64_t n = N * H;
  if (n == 0) return;
  constexpr int kThreads = 256;
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 1 << 20));
  DeviceGuard guard(device);
  row_elements_kernel<<<blocks, kThreads, 0, current_stream(device)>>>(n, H, f);
  check_launch(op);
}

}  // namespace fastgrad::cuda
