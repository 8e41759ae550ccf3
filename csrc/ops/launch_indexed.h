// launch_indexed<T>(op, out, f): the element of `out` with row-major index i
// becomes f(i). Used by factories (arange, linspace) and random fills; any
// layout of `out` works (non-contiguous outputs are filled through a buffer).
#pragma once
#include "backend/cpu/fill_indexed.h"
#include "ops/elementwise.h"

namespace fastgrad {

template <class T, class F>
void launch_indexed(const char* op, const Tensor& out, const F& f) {
  if (!out.device().is_cpu())
    fail<NotImplementedError>(op, ": no kernel for device ", out.device());
  if (out.is_contiguous()) {
    cpu::fill_indexed(out.data<T>(), out.numel(), f);
    out.bump_version();
  } else {
    check_writable(op, out);
    Tensor tmp = empty(out.sizes(), out.dtype(), out.device());
    cpu::fill_indexed(tmp.data<T>(), tmp.numel(), f);
    copy_(out, tmp);  // bumps the version
  }
}

}  // namespace fastgrad
