// dropout, feature (channel) dropout and alpha dropout. One fused pass draws
// the keep mask from the Philox generator and writes both the output and the
// mask as the backward's multiplier (0 or 1/(1-p)), so backward is a single
// mul with a constant: differentiable again for free.
//
// Note [Dropout draws]: mask element i uses word i % 4 of the Philox block
// at counter base + i / 4 (one reserved counter per 4 elements), so the mask
// depends only on (seed, offset), never on the thread count. The draw is
// math::KeepDraw, which the CUDA path runs per element (same bits as the CPU).
#include <cmath>

#include "backend/cpu/parallel.h"
#include "math/dropout.h"
#if defined(__CUDACC__)
#include "backend/cuda/index_loop.cuh"
#endif
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/norm_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

void check_p(const char* op, double p) {
  FG_CHECK_VALUE(p >= 0.0 && p <= 1.0, op,
                 ": dropout probability has to be between 0 and 1, but got ", p);
}

// Reserves the counters of n draws kept with probability q.
math::KeepDraw reserve_keep(int64_t n, double q, Generator* gen) {
  auto d = generator_or_default(gen).reserve(static_cast<uint64_t>((n + 3) / 4));
  // u < q with u = w / 2^32: compare integers against ceil-free threshold.
  return {d.key, d.base, std::ldexp(q, 32)};
}

// Calls f(i, keep) for i in [0, n), keep drawn with probability q; chunks are
// aligned to the 4-element Philox blocks.
template <class F>
void draw_keep(int64_t n, double q, Generator* gen, const F& f) {
  const int64_t blocks = (n + 3) / 4;
  const math::KeepDraw k = reserve_keep(n, q, gen);
  cpu::parallel_for(0, blocks, cpu::kGrain / 4, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      auto r = math::philox4x32_10(k.key, k.base + static_cast<uint64_t>(b));
      const int64_t i0 = b * 4, i1 = std::min(n, i0 + 4);
      for (int64_t i = i0; i < i1; ++i) f(i, k.word_keeps(r, static_cast<int>(i - i0)));
    }
  });
}

// The CUDA side: f (a math::DropoutFn) per element on the device.
template <class T>
void draw_on_device(const char* op, const Tensor& like, const math::DropoutFn<T>& f) {
#if defined(__CUDACC__)
  return cuda::for_each_index(op, like.numel(), f, like.device().index);
#else
  fail<NotImplementedError>(op, ": no kernel for device ", like.device());
#endif
}

// mask (shaped `mask_shape`, contiguous, dtype dt): 0 or 1 / (1 - p), or 0 / 1
// when `unit`.
Tensor make_mask(const char* op, const Shape& mask_shape, DType dt, Device dev, double p,
                 Generator* gen, bool unit = false) {
  Tensor mask = empty(mask_shape, dt, dev);
  dispatch_float(dt, op, [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data<T>();
    const T scale = unit ? T(1) : T(1) / static_cast<T>(1.0 - p);
    if (!dev.is_cpu())
      return draw_on_device(op, mask, math::DropoutFn<T>{
          reserve_keep(mask.numel(), 1.0 - p, gen), nullptr, nullptr, m, scale});
    draw_keep(mask.numel(), 1.0 - p, gen, [=](int64_t i, bool keep) { m[i] = keep ? scale : T(0); });
  });
  return mask;
}

// out = x * mask in one pass (x contiguous, same shape), recorded as a mul by
// a constant.
Tensor apply_mask(const char* op, const Tensor& x, const Tensor& xc, const Tensor& mask) {
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  if (!x.device().is_cpu()) {
    autograd::GradModeGuard no_grad(false);
    out = mul(xc, mask);
  } else dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = xc.data<T>();
    const T* mp = mask.data<T>();
    T* o = out.data<T>();
    cpu::parallel_for(0, x.numel(), cpu::kGrain, [&](int64_t a, int64_t b) {
      for (int64_t i = a; i < b; ++i) o[i] = xp[i] * mp[i];
    });
  });
  maybe_record("NativeDropoutBackward", {x}, {out}, {mask},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {mul(gs[0], n.saved(0))};
               });
  return out;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool train, Generator* gen) {
  const char* op = "dropout";
  check_p(op, p);
  check_cpu_or_cuda(op, x);
  check_floating(op, x.dtype());
  if (!train || p == 0.0 || x.numel() == 0) return x;
  if (p == 1.0) return mul(x, scalar_tensor(Scalar(0.0), x.dtype()));
  if (is_16bit_float(x.dtype()))  // Note [16-bit floats]
    return to_dtype(dropout(as_float32(x), p, train, gen), x.dtype());
  Tensor xc = contiguous(x);
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  // Fused: draw, write the output and the mask in the same pass.
  Tensor mask = empty(x.sizes(), x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = xc.data<T>();
    T* o = out.data<T>();
    T* m = mask.data<T>();
    const T scale = T(1) / static_cast<T>(1.0 - p);
    if (!x.device().is_cpu())
      return draw_on_device(op, x, math::DropoutFn<T>{reserve_keep(x.numel(), 1.0 - p, gen),
                                                      xp, o, m, scale});
    draw_keep(x.numel(), 1.0 - p, gen, [=](int64_t i, bool keep) {
      m[i] = keep ? scale : T(0);
      o[i] = xp[i] * m[i];
    });
  });
  maybe_record("NativeDropoutBackward", {x}, {out}, {mask},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {mul(gs[0], n.saved(0))};
               });
  return out;
}

const Tensor& dropout_(const Tensor& x, double p, bool train, Generator* gen) {
  const char* op = "dropout_";
  check_p(op, p);
  check_cpu_or_cuda(op, x);
  check_floating(op, x.dtype());
  if (!train || p == 0.0 || x.numel() == 0) return x;
  if (autograd::needs_grad({&x}))
    return inplace_with_grad(op, x, [&](const Tensor& c) { return dropout(c, p, train, gen); });
  check_writable(op, x);
  Tensor r = dropout(x, p, train, gen);
  copy_(x, r, op);
  return x;
}

Tensor feature_dropout(const Tensor& x, double p, bool train, bool batched, Generator* gen) {
  const char* op = "feature_dropout";
  check_p(op, p);
  check_cpu_or_cuda(op, x);
  check_floating(op, x.dtype());
  if (!train || p == 0.0 || x.numel() == 0) return x;
  if (p == 1.0) return mul(x, scalar_tensor(Scalar(0.0), x.dtype()));
  if (is_16bit_float(x.dtype()))  // Note [16-bit floats]
    return to_dtype(feature_dropout(as_float32(x), p, train, batched, gen), x.dtype());
  // One draw per (sample, channel): the mask broadcasts over trailing dims.
  const int64_t lead = batched ? 2 : 1;
  FG_CHECK(x.dim() >= lead, op, ": expected at least ", lead, " dims, got ",
           list_str(x.sizes()));
  Shape ms(x.sizes().begin(), x.sizes().begin() + lead);
  Tensor small = make_mask(op, ms, x.dtype(), x.device(), p, gen);
  Shape bs = ms;
  bs.resize(static_cast<size_t>(x.dim()), 1);
  Tensor mask = contiguous(expand(reshape(small, bs), x.sizes()));
  return apply_mask(op, x, contiguous(x), mask);
}

Tensor alpha_dropout(const Tensor& x, double p, bool train, Generator* gen) {
  const char* op = "alpha_dropout";
  check_p(op, p);
  check_cpu_or_cuda(op, x);
  check_floating(op, x.dtype());
  if (!train || p == 0.0 || x.numel() == 0) return x;
  if (p == 1.0) return mul(x, scalar_tensor(Scalar(0.0), x.dtype()));
  if (is_16bit_float(x.dtype()))  // Note [16-bit floats]
    return to_dtype(alpha_dropout(as_float32(x), p, train, gen), x.dtype());
  // Dropped units take SELU's negative saturation value -alpha, then an affine
  // map a * y + b restores zero mean and unit variance (Klambauer et al.).
  constexpr double kAlpha = 1.7580993408473766;  // SELU lambda * alpha
  const double a = 1.0 / std::sqrt((kAlpha * kAlpha * p + 1.0) * (1.0 - p));
  Tensor keep = make_mask(op, x.sizes(), x.dtype(), x.device(), p, gen, /*unit=*/true);
  // x * keep * a + (keep - 1) * alpha * a + alpha * a * p
  Tensor shift = add(mul(sub(keep, Scalar(1.0)), Scalar(kAlpha * a)), Scalar(kAlpha * a * p));
  return add(mul(x, mul(keep, Scalar(a))), shift);
}

}  // namespace fastgrad
