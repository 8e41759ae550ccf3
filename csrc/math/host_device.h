#pragma once
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define FG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FG_HOST_DEVICE inline
#endif

// Before a host-device template that calls a functor it is given: the CPU
// may pass host-only functors (vectorized math), which nvcc would otherwise
// flag in the template's device instantiation (thrust does the same).
#if defined(__CUDACC__)
#define FG_EXEC_CHECK_DISABLE _Pragma("nv_exec_check_disable")
#else
#define FG_EXEC_CHECK_DISABLE
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
