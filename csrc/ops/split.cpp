// Slicing views along one dim: narrow, select, unbind, split, chunk.
#include "core/check.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

namespace {
// narrow without re-validating (callers have checked the bounds).
Tensor slice(const Tensor& x, int64_t d, int64_t start, int64_t length) {
  Shape sizes = x.sizes();
  sizes[d] = length;
  return make_view(x, sizes, x.strides(), x.offset() + start * x.strides()[d]);
}

// select without validation or recording (index already wrapped).
Tensor select_raw(const Tensor& x, int64_t d, int64_t index) {
  Shape sizes = x.sizes(), strides = x.strides();
  int64_t offset = x.offset() + index * strides[d];
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  return make_view(x, sizes, strides, offset);
}

// split/split_with_sizes/unbind: the pieces are views of x with one node
// whose backward joins the pieces' gradients again (cat, or stack for unbind);
// pieces that got no gradient arrive as zeros.
Tensors record_pieces(const char* name, const Tensor& x, Tensors pieces, int64_t d,
                      bool stacked) {
  for (const Tensor& p : pieces) mark_view(p, x);
  maybe_record(name, {x}, pieces, {},
               [d, stacked](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {stacked ? stack(gs, d) : cat(gs, d)};
               });
  return pieces;
}

int64_t wrap_nonscalar(const Tensor& x, int64_t dim, const char* op) {
  FG_CHECK(x.dim() > 0, op, ": ", op, " expects at least a 1-dimensional tensor");
  return wrap_dim(dim, x.dim(), op);
}
}  // namespace

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  FG_CHECK(x.dim() > 0, "narrow: narrow() cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t n = x.sizes()[d];
  FG_CHECK_INDEX(start >= -n && start <= n,
                 "narrow: start out of range (expected to be in range of [", -n,
                 ", ", n, "], but got ", start, ")");
  if (start < 0) start += n;
  FG_CHECK(length >= 0, "narrow: narrow(): length must be non-negative.");
  FG_CHECK(length <= n - start, "narrow: start (", start, ") + length (", length,
           ") exceeds dimension size (", n, ").");
  Tensor out = slice(x, d, start, length);
  record_view("NarrowBackward", x, out,
              [d, start, length](const FunctionNode& nd, const Tensors& gs) -> Tensors {
                return {view_scatter(gs[0], nd.inputs[0].sizes, [=](const Tensor& z) {
                  return narrow(z, d, start, length);
                })};
              });
  return out;
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  FG_CHECK_INDEX(x.dim() > 0, "select: select() cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(dim, x.dim(), "select");
  const int64_t n = x.sizes()[d];
  FG_CHECK_INDEX(index >= -n && index < n, "select: index ", index,
                 " out of range for tensor of size ", list_str(x.sizes()),
                 " at dimension ", d);
  if (index < 0) index += n;
  Tensor out = select_raw(x, d, index);
  record_view("SelectBackward", x, out,
              [d, index](const FunctionNode& nd, const Tensors& gs) -> Tensors {
                return {view_scatter(gs[0], nd.inputs[0].sizes, [=](const Tensor& z) {
                  return select(z, d, index);
                })};
              });
  return out;
}

Tensors unbind(const Tensor& x, int64_t dim) {
  FG_CHECK_INDEX(x.dim() > 0, "unbind: Dimension specified as ", dim,
                 " but tensor has no dimensions");
  int64_t d = wrap_dim(dim, x.dim(), "unbind");
  Tensors out;
  for (int64_t i = 0; i < x.sizes()[d]; ++i) out.push_back(select_raw(x, d, i));
  return record_pieces("UnbindBackward", x, std::move(out), d, /*stacked=*/true);
}

Tensors split(const Tensor& x, int64_t split_size, int64_t dim) {
  int64_t d = wrap_nonscalar(x, dim, "split");
  const int64_t n = x.sizes()[d];
  FG_CHECK(split_size >= 0, "split: split expects split_size be non-negative, "
           "but got split_size=", split_size);
  FG_CHECK(split_size > 0 || n == 0, "split: split_size can only be 0 if "
           "dimension size is 0, but got dimension size of ", n);
  // An empty dim still yields one (empty) piece, as in PyTorch.
  int64_t pieces = n == 0 ? 1 : (n - 1) / split_size + 1;
  Tensors out;
  for (int64_t i = 0; i < pieces; ++i) {
    int64_t start = i * split_size;
    out.push_back(slice(x, d, start, std::min(split_size, n - start)));
  }
  return record_pieces("SplitBackward", x, std::move(out), d, /*stacked=*/false);
}

Tensors split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim) {
  int64_t d = wrap_nonscalar(x, dim, "split_with_sizes");
  const int64_t n = x.sizes()[d];
  int64_t total = 0;
  for (int64_t s : sizes) {
    FG_CHECK(s >= 0, "split_with_sizes: split_with_sizes expects split_sizes have "
             "only non-negative entries, but got split_sizes=", list_str(sizes));
    total += std::min(s, n + 1);  // clamped: no overflow, still detects > n
  }
  FG_CHECK(total == n, "split_with_sizes: split_with_sizes expects split_sizes to "
           "sum exactly to ", n, " (input tensor's size at dimension ", d,
           "), but got split_sizes=", list_str(sizes));
  Tensors out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(slice(x, d, start, s));
    start += s;
  }
  return record_pieces("SplitWithSizesBackward", x, std::move(out), d, /*stacked=*/false);
}

Tensors chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  int64_t d = wrap_nonscalar(x, dim, "chunk");
  FG_CHECK(chunks > 0, "chunk: chunk expects `chunks` to be greater than 0, got: ",
           chunks);
  const int64_t n = x.sizes()[d];
  int64_t size = n / chunks + (n % chunks != 0);
  if (n == 0) return split_with_sizes(x, Shape(chunks, 0), d);
  return split(x, size, d);
}

}  // namespace fastgrad
