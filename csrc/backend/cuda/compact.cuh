// Stream compaction for masked_select and nonzero on CUDA: an inclusive scan
// (CUB) of the mask gives each selected element its output row, read back
// once for the output size (the only synchronisation, as in PyTorch), then
// one thread per element writes the selected value or its coordinates.
// Included only by translation units nvcc compiles (ops/index_masked.cpp).
#pragma once
#include <cuda_runtime.h>

#include <cub/device/device_scan.cuh>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/strided_indexer.h"
#include "ops/elementwise.h"

namespace fastgrad::cuda {

constexpr int kCompactThreads = 256;

inline unsigned compact_blocks(int64_t n) {
  return static_cast<unsigned>(
      std::min<int64_t>((n + kCompactThreads - 1) / kCompactThreads, 1 << 20));
}

// pos[i] = number of set flags in [0, i] (flags: contiguous int64 0/1 of
// `device`); returns pos's last entry (the count).
inline int64_t inclusive_count(const char* op, const Tensor& flags, const Tensor& pos) {
  const int64_t n = flags.numel();
  if (n == 0) return 0;
  const int dev = flags.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = current_stream(dev);
  FG_CHECK(n <= INT32_MAX, op, ": more than 2^31 - 1 elements are not supported on CUDA");
  size_t bytes = 0;
  FG_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, bytes, flags.data<int64_t>(),
                                              pos.data<int64_t>(), static_cast<int>(n), s),
                op, ": scan");
  Tensor tmp = empty({static_cast<int64_t>(bytes / 8 + 1)}, DType::Int64, flags.device());
  FG_CUDA_CHECK(cub::DeviceScan::InclusiveSum(tmp.raw_data(), bytes, flags.data<int64_t>(),
                                              pos.data<int64_t>(), static_cast<int>(n), s),
                op, ": scan");
  Tensor last = to_device(make_view(pos, {1}, {1}, pos.offset() + n - 1), Device{});
  return *last.data<int64_t>();
}

template <class T>
__global__ void masked_compact_kernel(const int64_t* flags, const int64_t* pos, const T* x,
                                      T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    if (flags[i]) out[pos[i] - 1] = x[i];
}

// The sizes of the input (row-major coordinates of element i).
struct Dims {
  int nd;
  int64_t sizes[kMaxIndexerDims];
};

static __global__ void nonzero_kernel(const int64_t* flags, const int64_t* pos, int64_t* out,
                                      int64_t n, Dims d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (!flags[i]) continue;
    int64_t* row = out + (pos[i] - 1) * d.nd;
    int64_t rest = i;
    for (int k = d.nd - 1; k >= 0; --k) {
      row[k] = rest % d.sizes[k];
      rest /= d.sizes[k];
    }
  }
}

}  // namespace fastgrad::cuda
