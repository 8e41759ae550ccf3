// f(i) for every i in [0, n) on the current stream: a grid-stride loop for
// per-index functors (FG_HOST_DEVICE structs of math/*.h that the CPU runs in
// its own loop).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/cuda_check.h"

namespace fastgrad::cuda {

template <class F>
__global__ void index_loop_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    f(i);
}

template <class F>
void for_each_index(const char* name, int64_t n, const F& f, int device) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65535);
  DeviceGuard guard(device);
  index_loop_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, current_stream(device)>>>(n, f);
  check_launch(name);
}

}  // namespace fastgrad::cuda
