// launch<Out, In...>(out, {inputs}, f): the one place that picks a backend
// for an elementwise functor. Ops never call cpu_kernel directly.
#pragma once
#include "backend/cpu/elementwise.h"
#include "backend/cpu/elementwise_inplace.h"
#include "core/check.h"

namespace fastgrad {

template <class Out, class... In, class F>
void launch(const char* op, const Tensor& out,
            const std::array<const Tensor*, sizeof...(In)>& ins, const F& f) {
  for (const Tensor* t : ins)
    FG_CHECK(t->device() == out.device(), op,
             ": expected all tensors on the same device, got ", out.device(),
             " and ", t->device());
  if (out.device().is_cpu()) return cpu::cpu_kernel<Out, In...>(out, ins, f);
  fail<NotImplementedError>(op, ": no kernel for device ", out.device());
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
  fail<NotImplementedError>(op, ": no kernel for device ", dev);
}

}  // namespace fastgrad
