// launch_indexed<T>(op, out, f): the element of `out` with row-major index i
// becomes f(i). Used by factories (arange, linspace) and random fills; any
// layout of `out` works (non-contiguous outputs are filled through a buffer).
//
// CUDA tensors are filled on the host and copied over: the fill functors are
// lambdas today (not FG_HOST_DEVICE), and this keeps a CUDA random tensor
// bit-identical to the CPU one for the same generator state. A device-side
// fill kernel is the next step for large random tensors.
#pragma once
#include "backend/cpu/fill_indexed.h"
#include "ops/elementwise.h"

namespace fastgrad {

template <class T, class F>
void launch_indexed(const char* op, const Tensor& out, const F& f) {
  if (!out.device().is_cpu()) {
    check_writable(op, out);
    Tensor host = empty(out.sizes(), out.dtype(), Device{});
    cpu::fill_indexed(host.data<T>(), host.numel(), f);
    copy_(out, host);  // crosses devices; bumps the version
    return;
  }
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
