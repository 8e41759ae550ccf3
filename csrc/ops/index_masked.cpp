// Mask-driven ops: masked_fill(_), masked_select, nonzero (+ argwhere in the
// bindings), and one_hot. nonzero also backs bool-mask indexing.
#include <algorithm>
#include <cstring>

#include "math/binary.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/index_launch.h"

namespace fastgrad {

namespace {

void check_mask(const char* op, const Tensor& mask) {
  FG_CHECK(mask.dtype() == DType::Bool, op, ": expected a bool mask, got a ", mask.dtype(),
           " tensor");
}

// `t` seen with a broadcast shape (a view with stride-0 broadcast dims).
Tensor expand_to(const Tensor& t, const Shape& shape) {
  return restride(t, shape, cpu::broadcast_strides(t, shape));
}

void fill_where(const char* op, const Tensor& out, const Tensor& mask, const Tensor& x,
                const Scalar& value) {
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
  FG_CHECK(self.device().is_cpu(), "masked_select: no kernel for device ", self.device());
  Shape shape = broadcast_shapes(self.sizes(), mask.sizes(), "masked_select");
  Tensor m, x;
  {
    autograd::GradModeGuard no_grad(false);  // plain reads: MaskedSelectBackward covers them
    m = contiguous(expand_to(mask, shape));
    x = contiguous(expand_to(self, shape));
  }
  const bool* mp = m.data<bool>();
  const int64_t n = m.numel();
  const int64_t count = std::count(mp, mp + n, true);
  Tensor out = empty({count}, self.dtype(), self.device());
  dispatch(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for (int64_t i = 0, j = 0; i < n; ++i)
      if (mp[i]) op[j++] = xp[i];
  });
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
  FG_CHECK(self.device().is_cpu(), "nonzero: no kernel for device ", self.device());
  Tensor x = contiguous(self);
  const int64_t nd = self.dim(), n = self.numel();
  return dispatch(self.dtype(), [&](auto tag) {
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
  FG_CHECK(self.device().is_cpu(), "one_hot: no kernel for device ", self.device());
  FG_CHECK_VALUE(num_classes >= -1, "one_hot: num_classes must be -1 or non-negative, got ",
                 num_classes);
  Tensor x = contiguous(self);
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
  Shape shape = self.sizes();
  shape.push_back(num_classes);
  Tensor out = empty(shape, DType::Int64, self.device());
  int64_t* o = out.data<int64_t>();
  if (n * num_classes > 0) std::memset(o, 0, sizeof(int64_t) * n * num_classes);
  for (int64_t i = 0; i < n; ++i) o[i * num_classes + xp[i]] = 1;
  return out;
}

}  // namespace fastgrad
