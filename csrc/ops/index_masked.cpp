// Mask-driven ops: masked_fill(_), masked_select, nonzero (+ argwhere in the
// bindings), and one_hot. nonzero also backs bool-mask indexing. On CUDA
// masked_select and nonzero are stream compactions (backend/cuda/compact.cuh);
// one_hot validates its classes on the host and compares on the device.
#include <algorithm>
#include <cstring>

#include "math/binary.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/index_launch.h"
#include "ops/shape_ops.h"
#if defined(__CUDACC__)
#include "backend/cuda/compact.cuh"
#endif

namespace fastgrad {

namespace {

void check_mask(const char* op, const Tensor& mask) {
  FG_CHECK(mask.dtype() == DType::Bool, op, ": expected a bool mask, got a ", mask.dtype(),
           " tensor");
}

#if defined(__CUDACC__)
// The inclusive scan of a contiguous mask (anything compared != 0): flags
// (int64 0/1), each selected element's 1-based output row, and the count.
struct MaskScan {
  Tensor flags, pos;
  int64_t count;
};
MaskScan scan_mask(const char* op, const Tensor& m) {
  MaskScan s;
  s.flags = contiguous(to_dtype(ne(m, Scalar(0)), DType::Int64));
  s.pos = empty(m.sizes(), DType::Int64, m.device());
  s.count = cuda::inclusive_count(op, s.flags, s.pos);
  return s;
}

template <class K, class... A>
void compact_launch(const char* op, const Tensor& t, int64_t n, K kernel, A... args) {
  if (n == 0) return;
  const int dev = t.device().index;
  cuda::DeviceGuard guard(dev);
  kernel<<<cuda::compact_blocks(n), cuda::kCompactThreads, 0, cuda::current_stream(dev)>>>(
      args...);
  cuda::check_launch(op);
}
#else
[[noreturn]] void no_mask_kernel(const char* op, Device dev) {
  fail<NotImplementedError>(op, ": no kernel for device ", dev);
}
#endif

// `t` seen with a broadcast shape (a view with stride-0 broadcast dims).
Tensor expand_to(const Tensor& t, const Shape& shape) {
  return restride(t, shape, cpu::broadcast_strides(t, shape));
}

void fill_where(const char* op, const Tensor& out, const Tensor& mask, const Tensor& x,
                const Scalar& value) {
  if (is_16bit_float(out.dtype())) {  // Note [16-bit floats]: a float32 select, rounded once
    autograd::GradModeGuard no_grad(false);
    Tensor o = empty(out.sizes(), DType::Float32, out.device());
    fill_where(op, o, mask, to_dtype(x, DType::Float32), value);
    copy_(out, o, op);
    return;
  }
  dispatch(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = value.to<T>();
    launch<T, bool, T>(op, out, {&mask, &x}, math::MaskedFillFn<T>{v});
  });
}

}  // namespace

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value) {
  check_mask("masked_fill", mask);
  Shape shape = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill");
  Tensor out = empty(shape, self.dtype(), self.device());
  fill_where("masked_fill", out, mask, self, value);
  // g passes where the mask is false (the engine sums broadcast dims away).
  maybe_record("MaskedFillBackward", {self}, {out}, {mask},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {where(n.saved(0), 0.0, gs[0])};
               });
  return out;
}

// A 0-d tensor value: where() carries both gradients (the value's is the
// masked sum of g).
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value) {
  if (!autograd::needs_grad({&value})) return masked_fill(self, mask, item_scalar("masked_fill", value));
  check_mask("masked_fill", mask);
  item_scalar("masked_fill", value);  // the 0-d check
  broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill");
  return where(mask, to_dtype(value, self.dtype()), self);
}

namespace {
void check_masked_fill_(const Tensor& self, const Tensor& mask) {
  check_mask("masked_fill_", mask);
  Shape shape = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill_");
  FG_CHECK(shape == self.sizes(), "masked_fill_: output with shape ", shape_str(self.sizes()),
           " doesn't match the broadcast shape ", shape_str(shape));
}
}  // namespace

const Tensor& masked_fill_(const Tensor& self, const Tensor& mask, const Tensor& value) {
  if (!autograd::needs_grad({&self, &value}))
    return masked_fill_(self, mask, item_scalar("masked_fill_", value));
  check_masked_fill_(self, mask);
  return inplace_with_grad("masked_fill_", self,
                           [&](const Tensor& s) { return masked_fill(s, mask, value); });
}

const Tensor& masked_fill_(const Tensor& self, const Tensor& mask, const Scalar& value) {
  check_masked_fill_(self, mask);
  if (autograd::needs_grad({&self}))
    return inplace_with_grad("masked_fill_", self,
                             [&](const Tensor& s) { return masked_fill(s, mask, value); });
  check_writable_nonempty("masked_fill_", self);
  // A mask aliasing self with another layout must be read before writing.
  Tensor m = mask.storage() == self.storage() ? clone(mask) : mask;
  fill_where("masked_fill_", self, m, self, value);
  self.bump_version();
  return self;
}

Tensor masked_select(const Tensor& self, const Tensor& mask) {
  check_mask("masked_select", mask);
  FG_CHECK(mask.device() == self.device(),
           "masked_select: expected all tensors on the same device, got ", self.device(),
           " and ", mask.device());
  Shape shape = broadcast_shapes(self.sizes(), mask.sizes(), "masked_select");
  Tensor m, x;
  {
    autograd::GradModeGuard no_grad(false);  // plain reads: MaskedSelectBackward covers them
    m = contiguous(expand_to(mask, shape));
    x = contiguous(expand_to(self, shape));
  }
  const int64_t n = m.numel();
  Tensor out;
  if (!self.device().is_cpu()) {
#if defined(__CUDACC__)
    MaskScan s = scan_mask("masked_select", m);
    out = empty({s.count}, self.dtype(), self.device());
    dispatch_all(self.dtype(), [&](auto tag) {
      using T = decltype(tag);
      compact_launch("masked_select", x, n, cuda::masked_compact_kernel<T>,
                     s.flags.data<int64_t>(), s.pos.data<int64_t>(), x.data<T>(), out.data<T>(),
                     n);
    });
#else
    no_mask_kernel("masked_select", self.device());
#endif
  } else {
    const bool* mp = m.data<bool>();
    const int64_t count = std::count(mp, mp + n, true);
    out = empty({count}, self.dtype(), self.device());
    dispatch_all(self.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xp = x.data<T>();
      T* op = out.data<T>();
      for (int64_t i = 0, j = 0; i < n; ++i)
        if (mp[i]) op[j++] = xp[i];
    });
  }
  // Backward: zeros of the broadcast shape with g placed at the mask's
  // positions (an index_put, so double backward selects again).
  maybe_record("MaskedSelectBackward", {self}, {out}, {mask},
               [shape](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 return {index_put(zeros(shape, g.dtype(), g.device()),
                                   {expand_to(n.saved(0), shape)}, g)};
               });
  return out;
}

Tensor nonzero(const Tensor& self) {
  Tensor x = contiguous(self);
  const int64_t nd = self.dim(), n = self.numel();
  if (!self.device().is_cpu()) {
#if defined(__CUDACC__)
    FG_CHECK(nd <= cuda::kMaxIndexerDims, "nonzero: at most ", cuda::kMaxIndexerDims,
             " dims on CUDA, got ", nd);
    MaskScan s = scan_mask("nonzero", x);
    Tensor out = empty({s.count, nd}, DType::Int64, self.device());
    cuda::Dims d{static_cast<int>(nd), {}};
    for (int64_t k = 0; k < nd; ++k) d.sizes[k] = self.size(k);
    compact_launch("nonzero", x, n, cuda::nonzero_kernel, s.flags.data<int64_t>(),
                   s.pos.data<int64_t>(), out.data<int64_t>(), n, d);
    return out;
#else
    no_mask_kernel("nonzero", self.device());
#endif
  }
  return dispatch_all(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) count += xp[i] != T(0);
    Tensor out = empty({count, nd}, DType::Int64, self.device());
    int64_t* o = out.data<int64_t>();
    Shape coord(nd, 0);
    // Walk the elements in row-major order, carrying the coordinate along.
    for (int64_t i = 0; i < n; ++i) {
      if (xp[i] != T(0)) {
        std::copy(coord.begin(), coord.end(), o);
        o += nd;
      }
      for (int64_t d = nd - 1; d >= 0; --d) {
        if (++coord[d] < self.sizes()[d]) break;
        coord[d] = 0;
      }
    }
    return out;
  });
}

std::vector<Tensor> nonzero_tuple(const Tensor& self) {
  // A 0-d input counts as one dim here (PyTorch).
  Tensor nz = nonzero(as_1d(self));
  const int64_t n = nz.sizes()[0], k = nz.sizes()[1];
  std::vector<Tensor> cols;
  for (int64_t j = 0; j < k; ++j) cols.push_back(make_view(nz, {n}, {k}, nz.offset() + j));
  return cols;
}

Tensor one_hot(const Tensor& self, int64_t num_classes) {
  FG_CHECK(self.dtype() == DType::Int64,
           "one_hot: only applicable to index tensors of type int64, got ", self.dtype());
  FG_CHECK_VALUE(num_classes >= -1, "one_hot: num_classes must be -1 or non-negative, got ",
                 num_classes);
  Tensor x = contiguous(to_device(self, Device{}));  // CUDA: validated on the host
  const int64_t* xp = x.data<int64_t>();
  const int64_t n = x.numel();
  if (n > 0) {
    auto [lo, hi] = std::minmax_element(xp, xp + n);
    FG_CHECK(*lo >= 0, "one_hot: class values must be non-negative, got ", *lo);
    if (num_classes == -1) num_classes = *hi + 1;
    FG_CHECK(*hi < num_classes, "one_hot: class values must be smaller than num_classes (",
             num_classes, "), got ", *hi);
  }
  FG_CHECK(num_classes != -1,
           "one_hot: can not infer the total number of classes from an empty tensor");
  if (!self.device().is_cpu()) {  // classes compared on the device
    Tensor classes = arange(Scalar(int64_t(0)), Scalar(num_classes), Scalar(int64_t(1)),
                            DType::Int64, self.device());
    return to_dtype(eq(unsqueeze(self, -1), classes), DType::Int64);
  }
  Shape shape = self.sizes();
  shape.push_back(num_classes);
  Tensor out = empty(shape, DType::Int64, self.device());
  int64_t* o = out.data<int64_t>();
  if (n * num_classes > 0) std::memset(o, 0, sizeof(int64_t) * n * num_classes);
  for (int64_t i = 0; i < n; ++i) o[i * num_classes + xp[i]] = 1;
  return out;
}

}  // namespace fastgrad
