// CPU allocator: 64-byte aligned blocks (cache lines, AVX-512 loads).
#include <cstdlib>
#include <new>

#include "core/check.h"
#include "core/storage.h"

namespace fastgrad {

Storage cuda_allocate(int64_t nbytes, int index);  // backend/cuda or no_cuda

Storage allocate_storage(int64_t nbytes, Device device) {
  if (device.is_cuda()) return cuda_allocate(nbytes, device.index);
  constexpr size_t kAlign = 64;
  size_t n = (static_cast<size_t>(nbytes) + kAlign - 1) / kAlign * kAlign;
  void* p = n ? std::aligned_alloc(kAlign, n) : nullptr;
  if (n && !p)
    fail<RuntimeError>("out of memory: failed to allocate ", nbytes, " bytes on cpu");
  return std::make_shared<StorageImpl>(p, nbytes, device, [](void* q) { std::free(q); });
}

}  // namespace fastgrad
