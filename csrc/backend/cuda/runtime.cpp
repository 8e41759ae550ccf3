// CUDA runtime glue: device queries, the caching allocator (Note [CUDA block
// cache]) and cross-device copies. Compiled only with FASTGRAD_CUDA=ON
// (no_cuda/stubs.cpp stands in otherwise).
#include "backend/cuda/runtime.h"

#include <cstdio>

#include "backend/cuda/cuda_check.h"
#include "core/tensor.h"

namespace fastgrad {

namespace {

std::string format_bytes(int64_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

cuda::DeviceBlockCache& block_cache() {
  // Leaked on purpose: storages freed during interpreter teardown still find
  // it, and the driver reclaims device memory at exit anyway.
  static auto* cache = new cuda::DeviceBlockCache(
      [](size_t bytes, int device) -> void* {
        void* p = nullptr;
        FG_CUDA_CHECK(cudaSetDevice(device), "cuda: cannot select device ", device);
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
          cudaGetLastError();  // clear the out-of-memory error
          return nullptr;
        }
        return p;
      },
      [](void* p, int device) {
        cudaSetDevice(device);
        cudaFree(p);
      });
  return *cache;
}

// `device` resolved (< 0: current) and checked against the device count.
int checked_device(const char* op, int device) {
  const int n = cuda_device_count();
  FG_CHECK(n > 0, op, ": no CUDA GPU is available (this CUDA build found no device)");
  if (device < 0) device = cuda_current_device();
  FG_CHECK(device < n, op, ": device index ", device, " is out of range (", n,
           " CUDA devices available)");
  return device;
}

}  // namespace

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

int cuda_current_device() {
  int d = 0;
  FG_CUDA_CHECK(cudaGetDevice(&d), "cuda.current_device: cannot query the device");
  return d;
}

void cuda_set_device(int device) {
  device = checked_device("cuda.set_device", device);
  FG_CUDA_CHECK(cudaSetDevice(device), "cuda.set_device: cannot select device ", device);
}

void cuda_synchronize(int device) {
  device = checked_device("cuda.synchronize", device);
  int prev = cuda_current_device();
  FG_CUDA_CHECK(cudaSetDevice(device), "cuda.synchronize: cannot select device ", device);
  cudaError_t err = cudaDeviceSynchronize();
  cudaSetDevice(prev);
  FG_CUDA_CHECK(err, "cuda.synchronize: a kernel on cuda:", device, " failed");
}

Storage cuda_allocate(int64_t nbytes, int device) {
  device = checked_device("cuda", device);
  const Device where{DeviceType::CUDA, device};
  if (nbytes == 0) return std::make_shared<StorageImpl>(nullptr, 0, where, nullptr);
  cuda::DeviceBlockCache& cache = block_cache();
  void* stream = cuda::current_stream(device);
  void* p = cache.allocate(static_cast<size_t>(nbytes), device, stream);
  if (!p) {
    cuda::DeviceMemoryStats s = cache.stats(device);
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
    fail<RuntimeError>("CUDA out of memory: tried to allocate ", format_bytes(nbytes),
                       " on ", where, " (", format_bytes(static_cast<int64_t>(total_b)),
                       " total, ", format_bytes(static_cast<int64_t>(free_b)), " free; ",
                       format_bytes(s.allocated), " allocated by fastgrad, ",
                       format_bytes(s.reserved), " reserved by its cache after emptying it)");
  }
  return std::make_shared<StorageImpl>(p, nbytes, where, [](void* q) { block_cache().free(q); });
}

cuda::DeviceMemoryStats cuda_memory_stats(int device) {
  return block_cache().stats(checked_device("cuda.memory_stats", device));
}

void cuda_reset_peak_memory_stats(int device) {
  block_cache().reset_peak(checked_device("cuda.reset_peak_memory_stats", device));
}

void cuda_empty_cache() {
  if (!cuda_is_available()) return;  // nothing can be cached
  // cudaFree waits for the device, so blocks still read by queued kernels are safe.
  block_cache().empty_cache();
}

void copy_between_devices(const Tensor& dst, const Tensor& src) {
  size_t n = static_cast<size_t>(src.numel() * src.itemsize());
  if (n == 0) return;
  // Stream-ordered after every queued kernel; synchronous for pageable host
  // memory, so the CPU side is usable (or reusable) on return.
  cudaStream_t s = cuda::current_stream();
  FG_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), n, cudaMemcpyDefault, s),
                "to: copy from ", src.device(), " to ", dst.device(), " failed");
  if (dst.device().is_cpu()) {
    FG_CUDA_CHECK(cudaStreamSynchronize(s), "to: copy from ", src.device(), " failed");
  }
}

}  // namespace fastgrad
