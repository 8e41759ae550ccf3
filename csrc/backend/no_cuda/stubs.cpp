// A CPU-only build: every CUDA entry point says how to get one.
#include "core/check.h"
#include "core/storage.h"

namespace fastgrad {

class Tensor;

bool cuda_is_available() { return false; }
int cuda_device_count() { return 0; }

[[noreturn]] static void no_cuda() {
  fail<RuntimeError>(
      "fastgrad was built without CUDA: rebuild with "
      "`pip install . -Ccmake.define.FASTGRAD_CUDA=ON` to use cuda tensors");
}

Storage cuda_allocate(int64_t, int) { no_cuda(); }
void copy_between_devices(const Tensor&, const Tensor&) { no_cuda(); }

}  // namespace fastgrad
