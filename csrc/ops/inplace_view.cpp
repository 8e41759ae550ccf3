// Note [In-place ops on views]
// `v = base[...]; v.mul_(2)` must change base's gradient too. After the data is
// written, base gets a CopySlices node with edges to (base's old history, the
// in-place result): outside the view region the gradient flows to the old
// history, inside it to the result. v then becomes a fresh view of the new
// base. Views are located in base by storage geometry, so base must be
// contiguous (checked by check_inplace_autograd). Other views of base taken
// before the in-place op keep their old history (PyTorch regenerates them).
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

void rebase_view_history(const char* op, const Tensor& self, const Tensor& result) {
  Tensor base(self.impl()->view_base);
  // The view inside any contiguous tensor shaped like base.
  ViewFn view_fn = [sizes = self.sizes(), strides = self.strides(),
                    off = self.offset() - base.offset()](const Tensor& t) {
    Tensor c = contiguous(t);
    return as_strided(c, sizes, strides, c.offset() + off);
  };
  const Shape base_sizes = base.sizes();
  autograd::record("CopySlices", {base, result}, {base}, {},
                   [view_fn, base_sizes](const FunctionNode&, const Tensors& gs) -> Tensors {
                     const Tensor& g = gs[0];
                     Tensor inside = view_fn(g);
                     // g with the view region zeroed, written differentiably.
                     Tensor outside = sub(g, view_scatter(inside, base_sizes, view_fn));
                     return {outside, inside};
                   });
  // self = view_fn(new base)
  TensorImpl* s = self.impl();
  s->grad_fn.reset();
  s->requires_grad = false;
  autograd::record("AsStridedBackward", {base}, {self}, {},
                   [view_fn, base_sizes](const FunctionNode&, const Tensors& gs) -> Tensors {
                     return {view_scatter(gs[0], base_sizes, view_fn)};
                   });
  (void)op;
}

}  // namespace fastgrad
