#pragma once
#if defined(__CUDACC__)
#define FG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FG_HOST_DEVICE inline
#endif
