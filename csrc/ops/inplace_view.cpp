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

namespace {

// The view `self` inside any contiguous tensor shaped like its base.
ViewFn locate(const Tensor& self, const Tensor& base) {
  return [sizes = self.sizes(), strides = self.strides(),
          off = self.offset() - base.offset()](const Tensor& t) {
    Tensor c = contiguous(t);
    return as_strided(c, sizes, strides, c.offset() + off);
  };
}

// self's history := a view of base's current history.
void record_as_view(const Tensor& self, const Tensor& base, ViewFn view_fn) {
  TensorImpl* s = self.impl();
  s->grad_fn.reset();
  s->requires_grad = false;
  autograd::record("AsStridedBackward", {base}, {self}, {},
                   [view_fn, base_sizes = base.sizes()](const FunctionNode&,
                                                         const Tensors& gs) -> Tensors {
                     return {view_scatter(gs[0], base_sizes, view_fn)};
                   });
  s->view_version = self.version();
}

// Note [Stale views] (autograd/node.h).
void regenerate_view_history(const Tensor& self) {
  Tensor base(self.impl()->view_base);
  if (!base.requires_grad()) {
    self.impl()->view_version = self.version();
    return;
  }
  FG_CHECK(base.is_contiguous(),
           "autograd: a view was used after its non-contiguous base (or another view of "
           "it) was modified in place; its gradient cannot be tracked yet. clone() the view "
           "before the in-place operation.");
  autograd::GradModeGuard grad_on(true);
  record_as_view(self, base, locate(self, base));
}

struct RegisterRegenerator {
  RegisterRegenerator() { autograd::set_view_regenerator(&regenerate_view_history); }
} g_register_regenerator;

}  // namespace

void rebase_view_history(const char* op, const Tensor& self, const Tensor& result) {
  Tensor base(self.impl()->view_base);
  ViewFn view_fn = locate(self, base);
  const Shape base_sizes = base.sizes();
  autograd::record("CopySlices", {base, result}, {base}, {},
                   [view_fn, base_sizes](const FunctionNode&, const Tensors& gs) -> Tensors {
                     const Tensor& g = gs[0];
                     Tensor inside = view_fn(g);
                     // g with the view region zeroed, written differentiably.
                     Tensor outside = sub(g, view_scatter(inside, base_sizes, view_fn));
                     return {outside, inside};
                   });
  record_as_view(self, base, view_fn);  // self = view_fn(new base)
  (void)op;
}

}  // namespace fastgrad
