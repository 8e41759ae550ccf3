#pragma once
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
