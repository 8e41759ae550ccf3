// Conversions and copies: to_dtype, contiguous, clone, copy_, and PyTorch's
// promotion rules (result_type).
#include "backend/cpu/transpose.h"
#include "backend/cuda/runtime.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/shape_ops.h"
#include "ops/transfers.h"

namespace fastgrad {

namespace {
// One tier of result_type: dtype so far, or none.
struct Tier {
  bool set = false;
  DType t{};
  void add(DType d) { t = set ? promote_types(t, d) : d; set = true; }
};
DType combine(Tier dimmed, Tier zero_dim, Tier wrapped) {
  DType r = dimmed.set ? dimmed.t : zero_dim.set ? zero_dim.t : wrapped.t;
  if (zero_dim.set && category(zero_dim.t) > category(r)) r = promote_types(r, zero_dim.t);
  if (wrapped.set && category(wrapped.t) > category(r)) r = promote_types(r, wrapped.t);
  return r;
}
}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  Tier dimmed, zero;
  (a.dim() ? dimmed : zero).add(a.dtype());
  (b.dim() ? dimmed : zero).add(b.dtype());
  return combine(dimmed, zero, {});
}

DType result_type(const Tensor& a, const Scalar& b) {
  Tier dimmed, zero, wrapped;
  (a.dim() ? dimmed : zero).add(a.dtype());
  wrapped.add(b.dtype());
  return combine(dimmed, zero, wrapped);
}

void check_inplace_cast(const char* op, DType result, DType self) {
  // Allowed: result's category not above self's (float -> int is not).
  FG_CHECK(category(result) <= category(self), op, ": result type ", result,
           " can't be cast to the desired output type ", self);
}

void check_writable(const char* op, const Tensor& t) {
  if (t.numel() == 0) return;  // numpy gives empty arrays stride-0 dims
  for (int64_t i = 0; i < t.dim(); ++i)
    FG_CHECK(t.sizes()[i] <= 1 || t.strides()[i] != 0, op,
             ": unsupported operation: more than one element of the written-to "
             "tensor refers to a single memory location. Please clone() the "
             "tensor before performing the operation.");
}

void copy_between_devices(const Tensor& dst, const Tensor& src);  // backend/cuda

// copy_ from another device: cast and broadcast where src lives, one dense
// transfer, then an on-device copy into dst's layout when it is strided.
static void copy_across_devices(const Tensor& dst, const Tensor& src) {
  autograd::GradModeGuard no_grad(false);
  Tensor s = contiguous(to_dtype(expand(src, dst.sizes()), dst.dtype()));
  Tensor d = dst.is_contiguous() ? dst : empty(dst.sizes(), dst.dtype(), dst.device());
  note_transfer(s, dst.device(), nullptr);  // the ledger (ops/transfers.h)
  copy_between_devices(d, s);
  if (!d.is_same(dst)) copy_(dst, d);
}

void copy_(const Tensor& dst, const Tensor& src, const char* op) {
  Shape shape = broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
  FG_CHECK(shape == dst.sizes(), "copy_: source of shape ", shape_str(src.sizes()),
           " cannot be broadcast to destination shape ", shape_str(dst.sizes()));
  check_writable("copy_", dst);
  if (dst.device() != src.device()) {
    copy_across_devices(dst, src);
    dst.bump_version(op);
    return;
  }
  Tensor s = src.storage() == dst.storage() && !src.is_same(dst) ? clone(src) : src;
  dispatch_all(dst.dtype(), [&](auto to) {
    using To = decltype(to);
    dispatch_all(s.dtype(), [&](auto from) {
      using From = decltype(from);
      // Transposing copies take the cache-tiled path (Note [Tiled transpose]).
      if (dst.device().is_cpu() && s.device().is_cpu() &&
          cpu::copy_transposed<To, From>(dst, s, math::CastFn<To>{}))
        return;
      launch<To, From>("copy_", dst, {&s}, math::CastFn<To>{});
    });
  });
  dst.bump_version(op);
}

// The copies below are differentiable: their gradient is the output gradient
// (cast back to the input dtype by the engine).
static Tensor recorded_copy(const char* node, const Tensor& x, Tensor out) {
  {
    autograd::GradModeGuard no_grad(false);
    copy_(out, x);
  }
  if (is_floating(out.dtype()))
    maybe_record(node, {x}, {out}, {},
                 [](const FunctionNode&, const Tensors& gs) -> Tensors { return {gs[0]}; });
  return out;
}

const Tensor& copy_autograd(const Tensor& dst, const Tensor& src) {
  if (!autograd::needs_grad({&dst, &src})) {
    copy_(dst, src);
    return dst;
  }
  // dst's old value gets no gradient; src's gradient is g summed to its shape.
  return inplace_with_grad("copy_", dst, [&](const Tensor& s) {
    return add(mul(s, 0), to_dtype(src, dst.dtype()));
  });
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  return recorded_copy("ToCopyBackward", x, empty(x.sizes(), dtype, x.device()));
}

Tensor to_device(const Tensor& x, Device device) { return to_device_implicit(x, device, nullptr); }

Tensor to_device_implicit(const Tensor& x, Device device, const char* implicit) {
  // An index-less "cuda" is the current device (torch), so a tensor already
  // there stays put; without a GPU the allocation below says why not.
  if (device.is_cuda() && device.index < 0 && cuda_device_count() > 0)
    device.index = cuda_current_device();
  if (x.device() == device) return x;
  note_transfer(x, device, implicit);  // the ledger; raises in strict mode
  Tensor src = contiguous(x);
  Tensor out = empty(x.sizes(), x.dtype(), device);  // raises in a CPU build
  copy_between_devices(out, src);
  maybe_record("ToCopyBackward", {x}, {out}, {},
               [d = x.device()](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {to_device(gs[0], d)};
               });
  return out;
}

Tensor contiguous(const Tensor& x) {
  return x.is_contiguous() ? x : clone(x);
}

Tensor clone(const Tensor& x) {
  return recorded_copy("CloneBackward", x, empty(x.sizes(), x.dtype(), x.device()));
}

Tensor scalar_tensor(const Scalar& s, DType dtype) {
  Tensor out = empty({}, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    *out.data<T>() = s.to<T>();
  });
  return out;
}

}  // namespace fastgrad
