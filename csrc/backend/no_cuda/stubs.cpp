// A CPU-only build: the device queries answer "no GPU"; every other CUDA
// entry point says how to get a CUDA build.
#include "backend/cuda/runtime.h"
#include "core/check.h"

namespace fastgrad {

[[noreturn]] static void no_cuda() {
  fail<RuntimeError>(
      "fastgrad was built without CUDA: rebuild with "
      "`pip install . -Ccmake.define.FASTGRAD_CUDA=ON` to use cuda tensors");
}

int cuda_device_count() { return 0; }
bool cuda_is_available() { return false; }
int cuda_current_device() { no_cuda(); }
void cuda_set_device(int) { no_cuda(); }
void cuda_synchronize(int) { no_cuda(); }
Storage cuda_allocate(int64_t, int) { no_cuda(); }
cuda::DeviceMemoryStats cuda_memory_stats(int) { no_cuda(); }
void cuda_reset_peak_memory_stats(int) { no_cuda(); }
void cuda_empty_cache() {}  // torch: a no-op when CUDA was never initialised
void copy_between_devices(const Tensor&, const Tensor&) { no_cuda(); }

}  // namespace fastgrad
