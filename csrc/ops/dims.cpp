// Dim-reordering views: permute, transpose, t, T, mT, movedim, diagonal.
#include <algorithm>

#include "core/check.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

namespace {
// Wraps every dim of `dims` against `ndim`; duplicates are an error.
Dims wrap_unique(const Dims& dims, int64_t ndim, const char* op, const char* what) {
  Dims out;
  std::vector<bool> seen(std::max<int64_t>(ndim, 1), false);
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, ndim, op);
    FG_CHECK(!seen[d], op, ": repeated dim in `", what, "` (", list_str(dims), ")");
    seen[d] = true;
    out.push_back(d);
  }
  return out;
}

Tensor permuted(const Tensor& x, const Dims& order) {
  Shape sizes, strides;
  for (int64_t d : order) {
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  Tensor out = make_view(x, sizes, strides, x.offset());
  // Output dim i is input dim order[i]: the inverse permutation undoes it.
  Dims inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) inverse[order[i]] = static_cast<int64_t>(i);
  record_view("PermuteBackward", x, out,
              [inverse](const FunctionNode&, const Tensors& gs) -> Tensors {
                return {permute(gs[0], inverse)};
              });
  return out;
}
}  // namespace

Tensor permute(const Tensor& x, const Dims& dims) {
  FG_CHECK(static_cast<int64_t>(dims.size()) == x.dim(),
           "permute: number of dimensions in the tensor input does not match "
           "the length of the desired ordering of dimensions i.e. input.dim() = ",
           x.dim(), " is not equal to len(dims) = ", dims.size());
  Dims order;
  std::vector<bool> seen(x.dim(), false);
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, x.dim(), "permute");
    FG_CHECK(!seen[d], "permute: duplicate dims are not allowed.");
    seen[d] = true;
    order.push_back(d);
  }
  return permuted(x, order);
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  int64_t a = wrap_dim(dim0, x.dim(), "transpose");
  int64_t b = wrap_dim(dim1, x.dim(), "transpose");
  Shape sizes = x.sizes(), strides = x.strides();
  if (x.dim() > 0) {
    std::swap(sizes[a], sizes[b]);
    std::swap(strides[a], strides[b]);
  }
  Tensor out = make_view(x, sizes, strides, x.offset());
  record_view("TransposeBackward", x, out,
              [a, b](const FunctionNode&, const Tensors& gs) -> Tensors {
                return {transpose(gs[0], a, b)};
              });
  return out;
}

Tensor t(const Tensor& x) {
  FG_CHECK(x.dim() <= 2, "t: t() expects a tensor with <= 2 dimensions, but self is ",
           x.dim(), "D");
  return x.dim() < 2 ? transpose(x, 0, 0) : transpose(x, 0, 1);
}

Tensor T(const Tensor& x) {
  Dims order;
  for (int64_t d = x.dim() - 1; d >= 0; --d) order.push_back(d);
  return permuted(x, order);
}

Tensor mT(const Tensor& x) {
  FG_CHECK(x.dim() >= 2, "mT: tensor.mT is only supported on matrices or batches "
           "of matrices. Got ", x.dim(), "-D tensor.");
  return transpose(x, -2, -1);
}

Tensor movedim(const Tensor& x, const Dims& source, const Dims& destination) {
  FG_CHECK(source.size() == destination.size(),
           "movedim: Invalid source or destination dims: source (",
           list_str(source), " dims) should contain the same number of dims as "
           "destination (", list_str(destination), " dims)");
  Dims src = wrap_unique(source, x.dim(), "movedim", "source");
  Dims dst = wrap_unique(destination, x.dim(), "movedim", "destination");
  int64_t n = x.dim();
  if (n == 0) return permuted(x, {});
  // Moved dims land at their destinations; the rest keep their relative order
  // in the free slots.
  Dims order(n, -1);
  std::vector<bool> moved(n, false);
  for (size_t i = 0; i < src.size(); ++i) {
    order[dst[i]] = src[i];
    moved[src[i]] = true;
  }
  int64_t next = 0;
  for (int64_t& o : order) {
    if (o != -1) continue;
    while (moved[next]) ++next;
    o = next++;
  }
  return permuted(x, order);
}

Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  int64_t a = wrap_dim(dim1, x.dim(), "diagonal");
  int64_t b = wrap_dim(dim2, x.dim(), "diagonal");
  FG_CHECK(a != b, "diagonal: diagonal dimensions cannot be identical ", dim1,
           ", ", dim2);
  const int64_t sa = x.sizes()[a], sb = x.sizes()[b];
  int64_t n = offset >= 0 ? std::min(sa, sb - offset) : std::min(sa + offset, sb);
  n = std::max<int64_t>(n, 0);
  int64_t start = x.offset();
  if (n > 0) start += offset >= 0 ? offset * x.strides()[b] : -offset * x.strides()[a];
  Shape sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == a || d == b) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  sizes.push_back(n);
  strides.push_back(x.strides()[a] + x.strides()[b]);
  Tensor out = make_view(x, sizes, strides, start);
  record_view("DiagonalBackward", x, out,
              [offset, a, b](const FunctionNode& n, const Tensors& gs) -> Tensors {
                return {view_scatter(gs[0], n.inputs[0].sizes, [offset, a, b](const Tensor& z) {
                  return diagonal(z, offset, a, b);
                })};
              });
  return out;
}

}  // namespace fastgrad
