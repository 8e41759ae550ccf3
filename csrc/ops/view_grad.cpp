// view_scatter and sum_to_grad: the differentiable building blocks of the
// view ops' backward rules (see view_grad.h).
#include "ops/view_grad.h"

#include <algorithm>
#include <numeric>

#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/reduce_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

void record_view(const char* name, const Tensor& x, const Tensor& out,
                 autograd::BackwardFn fn) {
  mark_view(out, x);
  maybe_record(name, {x}, {out}, {}, std::move(fn));
}

Tensors reshape_back(const FunctionNode& n, const Tensors& gs) {
  return {reshape(gs[0], n.inputs[0].sizes)};
}

// Sorted by stride, each dim's stride must step past everything the smaller
// dims span.
bool non_overlapping(const Shape& sizes, const Shape& strides) {
  if (numel_of(sizes) <= 1) return true;
  std::vector<size_t> order;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (sizes[d] > 1) order.push_back(d);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return strides[a] < strides[b]; });
  int64_t span = 0;  // largest offset reachable by the dims so far
  for (size_t d : order) {
    if (strides[d] <= span) return false;
    span += (sizes[d] - 1) * strides[d];
  }
  return true;
}

namespace {

// dst += src where dst may overlap itself. Stride-0 dims (one location
// repeated) take src summed over them; any other overlap (sliding windows) is
// split along its smallest dim until each piece is overlap-free.
void accumulate(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  std::vector<int64_t> repeated;
  Shape sizes = dst.sizes();
  for (int64_t d = 0; d < dst.dim(); ++d)
    if (sizes[d] > 1 && dst.strides()[d] == 0) {
      repeated.push_back(d);
      sizes[d] = 1;
    }
  if (!repeated.empty()) {
    accumulate(make_view(dst, sizes, dst.strides(), dst.offset()),
               sum(src, repeated, /*keepdim=*/true));
    return;
  }
  if (non_overlapping(dst.sizes(), dst.strides())) {
    add_(dst, src);
    return;
  }
  int64_t best = -1;
  for (int64_t d = 0; d < dst.dim(); ++d)
    if (sizes[d] > 1 && (best < 0 || sizes[d] < sizes[best])) best = d;
  for (int64_t i = 0; i < sizes[best]; ++i)
    accumulate(select(dst, best, i), select(src, best, i));
}
}  // namespace

Tensor view_scatter(const Tensor& g, const Shape& sizes, ViewFn view_fn) {
  Tensor out = zeros(sizes, g.dtype(), g.device());
  {
    autograd::GradModeGuard no_grad(false);
    accumulate(view_fn(out), g);
  }
  maybe_record("ViewScatterBackward", {g}, {out}, {},
               [view_fn](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {view_fn(gs[0])};
               });
  return out;
}

Tensor sum_to_grad(const Tensor& g, const Shape& shape) {
  if (g.sizes() == shape) return g;
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = sum_to(g, shape);
  }
  maybe_record("SumToBackward", {g}, {out}, {},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Shape& full = n.inputs[0].sizes;
                 // Re-insert the summed leading dims, then broadcast.
                 Shape keep(full.size() - gs[0].dim(), 1);
                 keep.insert(keep.end(), gs[0].sizes().begin(), gs[0].sizes().end());
                 return {expand(reshape(gs[0], keep), full)};
               });
  return out;
}

}  // namespace fastgrad
