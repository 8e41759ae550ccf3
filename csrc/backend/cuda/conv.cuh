// conv2d on CUDA: im2col and an atomic-free col2im (one thread per input
// pixel gathering its column entries), both through the index math of
// ops/conv_kernels.h (Note [Conv index math]); the GEMMs are cuBLAS strided
// batches over the groups (backend/cuda/blas.h). Included only by
// translation units nvcc compiles (ops/conv.cpp).
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "ops/conv_kernels.h"

namespace fastgrad::cuda {

constexpr int kConvThreads = 256;

inline unsigned conv_blocks(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kConvThreads - 1) / kConvThreads, 1 << 20));
}

// col (G, K, L) of one sample x (C, H, W).
template <class T>
__global__ void im2col_kernel(ConvGeom g, const T* x, T* col, int64_t n) {
  const int64_t KL = g.K() * g.L();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t grp = i / KL, rem = i % KL;
    const int64_t src = im2col_source(g, rem / g.L(), rem % g.L());
    col[i] = src < 0 ? T(0) : x[grp * g.Cg * g.H * g.W + src];
  }
}

// gx (C, H, W) of one sample from its col (G, K, L); every pixel written.
template <class T>
__global__ void col2im_kernel(ConvGeom g, const T* col, T* gx, int64_t n) {
  const int64_t HW = g.H * g.W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i / HW, p = i % HW;
    gx[i] = col2im_gather(g, col + (c / g.Cg) * g.K() * g.L(), c % g.Cg, p / g.W, p % g.W);
  }
}

template <class T>
void im2col_cuda(int device, const ConvGeom& g, const T* x, T* col) {
  const int64_t n = g.G * g.K() * g.L();
  if (n == 0) return;
  DeviceGuard guard(device);
  im2col_kernel<T><<<conv_blocks(n), kConvThreads, 0, current_stream(device)>>>(g, x, col, n);
  check_launch("conv2d");
}

template <class T>
void col2im_cuda(int device, const ConvGeom& g, const T* col, T* gx) {
  const int64_t n = g.C * g.H * g.W;
  if (n == 0) return;
  DeviceGuard guard(device);
  col2im_kernel<T><<<conv_blocks(n), kConvThreads, 0, current_stream(device)>>>(g, col, gx, n);
  check_launch("conv2d");
}

}  // namespace fastgrad::cuda
