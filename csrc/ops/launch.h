// launch<Out, In...>(out, {inputs}, f): the one place that picks a backend
// for an elementwise functor. Ops never call cpu_kernel directly.
#pragma once
#include "backend/cpu/elementwise.h"
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

}  // namespace fastgrad
