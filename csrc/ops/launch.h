// launch<Out, In...>(out, {inputs}, f): the one place that picks a backend
// for an elementwise functor. Ops never call cpu_kernel directly.
//
// The CUDA branch exists only where nvcc compiles the caller (every
// csrc/ops/*.cpp in a FASTGRAD_CUDA=ON build, Note [Ops compiled as CUDA]);
// it runs the same functor, so functors must be FG_HOST_DEVICE structs (nvcc
// rejects plain lambdas there). The CPU build compiles exactly the CPU path.
#pragma once
#include "backend/cpu/elementwise.h"
#include "backend/cpu/elementwise_inplace.h"
#include "core/check.h"
#if defined(__CUDACC__)
#include "backend/cuda/elementwise.cuh"
#endif

namespace fastgrad {

// Raised for a device no kernel was compiled for. In a CUDA build a host-only
// translation unit that instantiates a launch is a build error instead.
template <class F>
[[noreturn]] void no_kernel_for(const char* op, Device dev) {
#if defined(FASTGRAD_WITH_CUDA) && !defined(__CUDACC__)
  static_assert(sizeof(F) == 0,
                "ops/launch.h instantiated in a host-only file of a CUDA build: "
                "compile the file as CUDA (see CMakeLists.txt)");
#endif
  fail<NotImplementedError>(op, ": no kernel for device ", dev);
}

// As in PyTorch, a 0-d CPU tensor (what a Python scalar becomes) may be an
// input of a CUDA op: the CUDA launcher passes its value to the kernel.
template <class Out, class... In, class F>
void launch(const char* op, const Tensor& out,
            const std::array<const Tensor*, sizeof...(In)>& ins, const F& f) {
  for (const Tensor* t : ins)
    FG_CHECK(t->device() == out.device() || (t->device().is_cpu() && t->dim() == 0), op,
             ": expected all tensors on the same device, got ", out.device(),
             " and ", t->device());
  if (out.device().is_cpu()) return cpu::cpu_kernel<Out, In...>(out, ins, f);
#if defined(__CUDACC__)
  return cuda::cuda_kernel<Out, In...>(op, out, ins, f);
#else
  no_kernel_for<F>(op, out.device());
#endif
}

// f(e0, e1, ...) with every operand's element as a T& (several tensors read
// and written in one pass); null operands are optional scratch, see
// backend/cpu/elementwise_inplace.h. Callers check shapes and dtypes.
template <class T, size_t N, class F>
void launch_inplace(const char* op, const Shape& shape,
                    const std::array<const Tensor*, N>& ops, const F& f) {
  Device dev = ops[0]->device();
  for (const Tensor* t : ops)
    FG_CHECK(!t || t->device() == dev, op,
             ": expected all tensors on the same device, got ", dev, " and ", t->device());
  if (dev.is_cpu()) return cpu::cpu_kernel_inplace<T, N>(shape, ops, f);
#if defined(__CUDACC__)
  return cuda::cuda_kernel_inplace<T, N>(op, shape, ops, f);
#else
  no_kernel_for<F>(op, dev);
#endif
}

}  // namespace fastgrad
