// launch_indexed<T>(op, out, f): the element of `out` with row-major index i
// becomes f(i). Used by factories (arange, linspace) and random fills; any
// layout of `out` works (non-contiguous outputs are filled through a buffer).
//
// On CUDA, functors that declare `static constexpr bool kOnDevice = true`
// (FG_HOST_DEVICE structs: arange, linspace, the Philox fills) run on the
// device through backend/cuda/index_loop.cuh; the rest (lambdas reading host
// memory: randperm, bernoulli_ with a tensor of probabilities) are filled on
// the host and copied over. Either way element i is the same function of i.
#pragma once
#include <type_traits>

#include "backend/cpu/fill_indexed.h"
#include "math/host_device.h"
#include "ops/elementwise.h"
#if defined(__CUDACC__)
#include "backend/cuda/index_loop.cuh"
#endif

namespace fastgrad {

template <class F, class = void>
struct OnDevice : std::false_type {};
template <class F>
struct OnDevice<F, std::void_t<decltype(F::kOnDevice)>> : std::bool_constant<F::kOnDevice> {};

template <class T, class F>
void launch_indexed(const char* op, const Tensor& out, const F& f) {
#if defined(__CUDACC__)
  if constexpr (OnDevice<F>::value) {
    if (out.device().is_cuda()) {
      const bool direct = out.is_contiguous();
      if (!direct) check_writable(op, out);
      Tensor dst = direct ? out : empty(out.sizes(), out.dtype(), out.device());
      cuda::for_each_index(op, dst.numel(), math::StoreIndexedFn<T, F>{dst.data<T>(), f},
                           out.device().index);
      if (direct) out.bump_version();
      else copy_(out, dst);  // bumps the version
      return;
    }
  }
#endif
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
