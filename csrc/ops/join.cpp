// Joining copies: cat (concat), stack, hstack, vstack and the atleast_* views
// they use. Data moves only through copy_, which also converts dtypes.
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

namespace {
// PyTorch still accepts 1-D tensors of shape (0,) in cat with any other
// shape ("legacy" empty tensors): they are skipped, except for promotion.
bool legacy_empty(const Tensor& x) { return x.dim() == 1 && x.sizes()[0] == 0; }
}  // namespace

Tensor cat(const Tensors& xs, int64_t dim) {
  FG_CHECK_VALUE(!xs.empty(), "cat: expected a non-empty list of Tensors");
  const Tensor* ref = nullptr;  // first tensor that takes part in the shape
  DType dtype = xs[0].dtype();
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    FG_CHECK(x.dim() > 0, "cat: zero-dimensional tensor (at position ", i,
             ") cannot be concatenated");
    FG_CHECK(x.device() == xs[0].device(), "cat: expected all tensors to be on "
             "the same device, but found ", xs[0].device(), " and ", x.device());
    dtype = promote_types(dtype, x.dtype());
    if (!ref && !legacy_empty(x)) ref = &x;
  }
  if (!ref) {
    wrap_dim(dim, 1, "cat");
    return empty({0}, dtype, xs[0].device());
  }
  const int64_t d = wrap_dim(dim, ref->dim(), "cat");
  Shape shape = ref->sizes();
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    if (legacy_empty(x)) continue;
    FG_CHECK(x.dim() == ref->dim(), "cat: Tensors must have same number of "
             "dimensions: got ", ref->dim(), " and ", x.dim());
    for (int64_t k = 0; k < x.dim(); ++k)
      FG_CHECK(k == d || x.sizes()[k] == ref->sizes()[k], "cat: Sizes of tensors "
               "must match except in dimension ", d, ". Expected size ",
               ref->sizes()[k], " but got size ", x.sizes()[k], " for tensor number ",
               i, " in the list.");
    shape[d] += x.sizes()[d];
  }
  Tensor out = empty(shape, dtype, xs[0].device());
  int64_t start = 0;
  Shape lengths;  // each input's extent along d; -1 for skipped legacy empties
  for (const Tensor& x : xs) {
    if (legacy_empty(x)) {
      lengths.push_back(-1);
      continue;
    }
    int64_t n = x.sizes()[d];
    if (n > 0) copy_(narrow(out, d, start, n), x);
    start += n;
    lengths.push_back(n);
  }
  // Each input's gradient is its slice of g.
  maybe_record("CatBackward", xs, {out}, {},
               [d, lengths](const FunctionNode& nd, const Tensors& gs) -> Tensors {
                 Tensors r;
                 int64_t at = 0;
                 for (size_t i = 0; i < lengths.size(); ++i) {
                   if (!nd.needs_input_grad(i)) {
                     r.push_back(Tensor());
                     at += std::max<int64_t>(lengths[i], 0);
                     continue;
                   }
                   if (lengths[i] < 0) {  // skipped legacy empty: an empty gradient
                     r.push_back(narrow(flatten(gs[0]), 0, 0, 0));
                     continue;
                   }
                   r.push_back(narrow(gs[0], d, at, lengths[i]));
                   at += lengths[i];
                 }
                 return r;
               });
  return out;
}

Tensor stack(const Tensors& xs, int64_t dim) {
  FG_CHECK(!xs.empty(), "stack: stack expects a non-empty TensorList");
  for (size_t i = 1; i < xs.size(); ++i)
    FG_CHECK(xs[i].sizes() == xs[0].sizes(), "stack: stack expects each tensor to "
             "be equal size, but got ", list_str(xs[0].sizes()), " at entry 0 and ",
             list_str(xs[i].sizes()), " at entry ", i);
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  Tensors parts;
  for (const Tensor& x : xs) parts.push_back(unsqueeze(x, d));
  return cat(parts, d);
}

Tensor atleast_1d(const Tensor& x) {
  if (x.dim() != 0) return x;
  Tensor out = make_view(x, {1}, {1}, x.offset());
  record_view("ViewBackward", x, out, reshape_back);
  return out;
}

Tensor atleast_2d(const Tensor& x) {
  Tensor y = atleast_1d(x);
  return y.dim() == 1 ? unsqueeze(y, 0) : y;
}

Tensor hstack(const Tensors& xs) {
  FG_CHECK(!xs.empty(), "hstack: hstack expects a non-empty TensorList");
  Tensors parts;
  for (const Tensor& x : xs) parts.push_back(atleast_1d(x));
  return cat(parts, parts[0].dim() == 1 ? 0 : 1);
}

Tensor vstack(const Tensors& xs) {
  FG_CHECK(!xs.empty(), "vstack: vstack expects a non-empty TensorList");
  Tensors parts;
  for (const Tensor& x : xs) parts.push_back(atleast_2d(x));
  return cat(parts, 0);
}

}  // namespace fastgrad
