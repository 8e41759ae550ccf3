#pragma once
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define FG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FG_HOST_DEVICE inline
#endif

namespace fastgrad::math {
template <class T> constexpr bool kIsFloat = std::is_floating_point_v<T>;

// out[i] = f(i): a per-index functor stored by a per-index loop (CPU or CUDA).
template <class T, class F>
struct StoreIndexedFn {
  T* out;
  F f;
  FG_HOST_DEVICE void operator()(int64_t i) const { out[i] = f(i); }
};
}  // namespace fastgrad::math
