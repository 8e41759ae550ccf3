// take: elements of the flattened input at (possibly negative) flat indices,
// and its backward (g added into zeros at those indices).
#include "ops/factory_ops.h"
#include "ops/index_launch.h"

namespace fastgrad {

Tensor take(const Tensor& self, const Tensor& index) {
  check_index_dtype("take", index, false);
  Tensor flat;
  {
    autograd::GradModeGuard no_grad(false);  // a plain read: TakeBackward covers it
    flat = contiguous(self);
  }
  const int64_t n = self.numel();
  flat = restride(flat, {n}, {1});
  Tensor off = index_offsets("take", index, n, 1, 0, true);
  Tensor out = empty(index.sizes(), self.dtype(), self.device());
  gather_offsets("take", out, restride(flat, index.sizes(), Shape(index.dim(), 0)), off);
  maybe_record("TakeBackward", {self}, {out}, {index},
               [sizes = self.sizes()](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {take_backward(gs[0], n.saved(0), sizes)};
               });
  return out;
}

Tensor take_backward(const Tensor& g, const Tensor& index, const Shape& sizes) {
  Tensor z;
  {
    autograd::GradModeGuard no_grad(false);
    z = zeros(sizes, g.dtype(), g.device());
    const int64_t n = z.numel();
    // z is contiguous: its flat view receives g (repeated indices add up).
    index_put_(restride(z, {n}, {1}), {index}, g, /*accumulate=*/true);
  }
  // Linear in g: its backward is take again.
  maybe_record("TakeBackwardBackward", {g}, {z}, {index},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {take(gs[0], n.saved(0))};
               });
  return z;
}

}  // namespace fastgrad
