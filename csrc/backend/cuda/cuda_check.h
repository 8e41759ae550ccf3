// Host-side helpers for code that includes the CUDA runtime: error checks
// that raise fastgrad errors, and the stream every launch uses.
#pragma once
#include <cuda_runtime.h>

#include "core/check.h"

// FG_CUDA_CHECK(cudaMemcpy(...), "to: copy from ", a, " to ", b): raises a
// RuntimeError with the message and CUDA's reason, clearing the sticky error.
#define FG_CUDA_CHECK(expr, ...)                                             \
  do {                                                                       \
    cudaError_t fg_err_ = (expr);                                            \
    if (fg_err_ != cudaSuccess) {                                            \
      cudaGetLastError();                                                    \
      ::fastgrad::fail<::fastgrad::RuntimeError>(                            \
          __VA_ARGS__, " (CUDA error: ", cudaGetErrorString(fg_err_), ")");  \
    }                                                                        \
  } while (0)

namespace fastgrad::cuda {

// The stream fastgrad queues work on for `device` (< 0: the current device):
// this thread's choice (`with fastgrad.cuda.stream(s):`), by default the
// legacy default stream. Kernels, copies and the allocator's stream-ordered
// reuse (Note [CUDA block cache]) all ask here (backend/cuda/streams.cpp).
cudaStream_t current_stream(int device = -1);

// Makes `device` current for a scope (kernels run on the current device),
// restoring the previous one; a no-op when it already is.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    FG_CUDA_CHECK(cudaGetDevice(&prev_), "cuda: cannot query the current device");
    if (device >= 0 && device != prev_) {
      FG_CUDA_CHECK(cudaSetDevice(device), "cuda: cannot select device ", device);
      set_ = true;
    }
  }
  ~DeviceGuard() {
    if (set_) cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool set_ = false;
};

// Raises if the last kernel launch failed (bad configuration, no device).
inline void check_launch(const char* op) {
  FG_CUDA_CHECK(cudaGetLastError(), op, ": CUDA kernel launch failed");
}

}  // namespace fastgrad::cuda
