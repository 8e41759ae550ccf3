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
int64_t cuda_stream_create(int, int) { no_cuda(); }
void cuda_stream_destroy(int64_t) {}
int64_t cuda_get_current_stream(int) { no_cuda(); }
void cuda_set_current_stream(int, int64_t) { no_cuda(); }
void cuda_stream_synchronize(int64_t) { no_cuda(); }
bool cuda_stream_query(int64_t) { no_cuda(); }
void cuda_stream_wait_event(int64_t, int64_t) { no_cuda(); }
int64_t cuda_event_create(bool) { no_cuda(); }
void cuda_event_destroy(int64_t) {}
void cuda_event_record(int64_t, int64_t) { no_cuda(); }
void cuda_event_synchronize(int64_t) { no_cuda(); }
bool cuda_event_query(int64_t) { no_cuda(); }
double cuda_event_elapsed_ms(int64_t, int64_t) { no_cuda(); }

}  // namespace fastgrad
