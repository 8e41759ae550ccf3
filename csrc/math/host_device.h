#pragma once
#include <type_traits>

#if defined(__CUDACC__)
#define FG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FG_HOST_DEVICE inline
#endif

namespace fastgrad::math {
template <class T> constexpr bool kIsFloat = std::is_floating_point_v<T>;
}  // namespace fastgrad::math
