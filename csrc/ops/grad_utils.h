// Helpers for backward rules (written with fastgrad ops, so that rules are
// differentiable again for create_graph=True).
#pragma once
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace fastgrad {

using autograd::FunctionNode;
using autograd::Tensors;

// Node name for an op: "log_softmax" -> "LogSoftmaxBackward".
std::string backward_name(const char* op);

// Sums `grad` down to `shape`: undoes broadcasting in a backward rule.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Records `fn` as the backward of `outputs` when grad mode is on and an input
// requires grad. `saved` tensors are checked against in-place changes. Costs
// nothing else when no recording is needed (fn becomes a BackwardFn only then).
template <class F>
inline void maybe_record(const char* name, autograd::TensorRefs inputs,
                         autograd::TensorRefs outputs, autograd::TensorRefs saved, F&& fn) {
  if (autograd::needs_grad(inputs))
    autograd::record(name, inputs, outputs, saved, autograd::BackwardFn(std::forward<F>(fn)));
}

// In-place ops on tensors that require grad: PyTorch forbids it on leaves.
void check_inplace_autograd(const char* op, const Tensor& self);

// View ops call this on their result: records which tensor it views.
void mark_view(const Tensor& view, const Tensor& base);

Tensor clone(const Tensor& x);
void copy_(const Tensor& dst, const Tensor& src, const char* op);

// Runs `out_of_place(src)` on a recorded copy of self's current value and
// writes the result into self, which takes over the result's history. Used by
// in-place ops when autograd is recording, so that tensors saved for backward
// are never the ones being overwritten.
// Self is a view: the base takes a CopySlices history (base outside the view
// keeps its old gradient, the view region gets `result`'s) and self becomes a
// view of the new base (ops/inplace_view.cpp). Data must already be written.
void rebase_view_history(const char* op, const Tensor& self, const Tensor& result);

template <class F>
const Tensor& inplace_with_grad(const char* op, const Tensor& self, F out_of_place) {
  check_inplace_autograd(op, self);
  Tensor result = out_of_place(clone(self));  // clone is recorded (identity backward)
  {
    autograd::GradModeGuard no_grad(false);
    copy_(self, result, op);
  }
  if (self.impl()->view_base) {
    rebase_view_history(op, self, result);
    return self;
  }
  TensorImpl* s = self.impl();
  s->grad_fn = result.impl()->grad_fn;
  s->output_nr = result.impl()->output_nr;
  s->requires_grad = result.requires_grad();
  return self;
}

}  // namespace fastgrad
