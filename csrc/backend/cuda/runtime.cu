// CUDA runtime glue: device queries and the device allocator. Compiled only
// with FASTGRAD_CUDA=ON (no_cuda/stubs.cpp stands in otherwise).
#include <cuda_runtime.h>

#include "core/check.h"
#include "core/storage.h"
#include "core/tensor.h"

namespace fastgrad {

int cuda_device_count() {
  int n = 0;
  // No driver or no GPU: report zero devices instead of failing the import.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

bool cuda_is_available() { return cuda_device_count() > 0; }

Storage cuda_allocate(int64_t nbytes, int index) {
  int dev = index < 0 ? 0 : index;
  FG_CHECK(dev < cuda_device_count(), "cuda: device index ", dev, " is out of range (",
           cuda_device_count(), " devices available)");
  FG_CHECK(cudaSetDevice(dev) == cudaSuccess, "cuda: cannot select device ", dev);
  void* p = nullptr;
  if (nbytes > 0) {
    cudaError_t err = cudaMalloc(&p, static_cast<size_t>(nbytes));
    FG_CHECK(err == cudaSuccess, "cuda: out of memory allocating ", nbytes,
             " bytes on cuda:", dev, " (", cudaGetErrorString(err), ")");
  }
  return std::make_shared<StorageImpl>(p, nbytes, Device{DeviceType::CUDA, dev},
                                       [](void* q) { if (q) cudaFree(q); });
}

// Both tensors contiguous with equal sizes and dtype (ops/copy.cpp ensures it).
void copy_between_devices(const Tensor& dst, const Tensor& src) {
  size_t n = static_cast<size_t>(src.numel() * src.itemsize());
  if (n == 0) return;
  cudaError_t err = cudaMemcpy(dst.raw_data(), src.raw_data(), n, cudaMemcpyDefault);
  FG_CHECK(err == cudaSuccess, "to: copy from ", src.device(), " to ", dst.device(),
           " failed (", cudaGetErrorString(err), ")");
}

}  // namespace fastgrad
