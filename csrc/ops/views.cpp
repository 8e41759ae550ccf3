// Reshaping views: view, reshape, flatten, unflatten, squeeze, unsqueeze,
// as_strided. All of them only compute new sizes/strides over the same
// storage; reshape alone falls back to a copy when no view exists.
#include <algorithm>

#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

std::string list_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

Shape infer_size(const char* op, const Shape& shape, int64_t numel) {
  int64_t known = 1;  // product of the given sizes
  bool overflow = false;
  std::optional<size_t> infer;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      FG_CHECK(!infer, op, ": only one dimension can be inferred");
      infer = i;
      continue;
    }
    FG_CHECK(shape[i] >= 0, op, ": invalid shape dimension ", shape[i],
             " at index ", i, " of shape ", list_str(shape));
    overflow |= __builtin_mul_overflow(known, shape[i], &known);
  }
  Shape out = shape;
  if (!overflow && infer && known > 0 && numel % known == 0) {
    out[*infer] = numel / known;
    return out;
  }
  FG_CHECK(!(infer && known == 0 && numel == 0), op,
           ": cannot reshape tensor of 0 elements into shape ", list_str(shape),
           " because the unspecified dimension size -1 can be any value and is "
           "ambiguous");
  FG_CHECK(!overflow && !infer && known == numel, op, ": shape '",
           list_str(shape), "' is invalid for input of size ", numel);
  return out;
}

// Note [View strides]
// Old dims are grouped into chunks: maximal runs of dims that are contiguous
// with each other (stride[d] == stride[d+1] * size[d+1]; size-1 dims never
// break a run). Each chunk is one linear block of `numel` elements with step
// `base`, so it can be re-split into any new dims whose product equals its
// numel; a new dim may never straddle two chunks. Walking both shapes from the
// innermost dim, new dims are assigned to the current chunk until their
// product reaches the chunk's numel (size-1 new dims join whichever chunk is
// current). This yields the same strides PyTorch reports.
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides,
                                  const Shape& new_sizes) {
  const int64_t nd = static_cast<int64_t>(sizes.size());
  Shape out(new_sizes.size(), 1);
  if (nd == 0) return out;  // a 0-d tensor: every new dim has size 1
  const int64_t numel = numel_of(sizes);
  if (numel == 0) {
    if (sizes == new_sizes) return strides;
    return contiguous_strides(new_sizes);
  }
  int64_t v = static_cast<int64_t>(new_sizes.size()) - 1;  // next new dim
  int64_t base = strides[nd - 1], chunk = 1;
  for (int64_t d = nd - 1; d >= 0; --d) {
    chunk *= sizes[d];
    bool ends = d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != chunk * base);
    if (!ends) continue;
    int64_t acc = 1;
    while (v >= 0 && (acc < chunk || new_sizes[v] == 1)) {
      out[v] = acc * base;
      acc *= new_sizes[v];
      --v;
    }
    if (acc != chunk) return std::nullopt;
    if (d > 0) {
      base = strides[d - 1];
      chunk = 1;
    }
  }
  if (v != -1) return std::nullopt;
  return out;
}

Tensor view(const Tensor& x, const Shape& shape) {
  Shape sizes = infer_size("view", shape, x.numel());
  auto st = view_strides(x.sizes(), x.strides(), sizes);
  FG_CHECK(st.has_value(),
           "view: view size is not compatible with input tensor's size and "
           "stride (at least one dimension spans across two contiguous "
           "subspaces). Use .reshape(...) instead.");
  Tensor out = make_view(x, sizes, *st, x.offset());
  record_view("ViewBackward", x, out, reshape_back);
  return out;
}

namespace {
// Shared by reshape and flatten: `sizes` already resolved.
Tensor reshape_to(const Tensor& x, const Shape& sizes) {
  if (auto st = view_strides(x.sizes(), x.strides(), sizes)) {
    Tensor out = make_view(x, sizes, *st, x.offset());
    record_view("ViewBackward", x, out, reshape_back);
    return out;
  }
  // A copy (not a view of x: in-place ops on it are fine). clone is recorded,
  // the reshaped view of the private copy records the shape change.
  Tensor c = clone(x);  // contiguous, so any shape of the same numel is a view
  Tensor out = make_view(c, sizes, contiguous_strides(sizes), 0);
  maybe_record("UnsafeViewBackward", {c}, {out}, {}, reshape_back);
  return out;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  return reshape_to(x, infer_size("reshape", shape, x.numel()));
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten");
  int64_t e = wrap_dim(end_dim, x.dim(), "flatten");
  FG_CHECK(s <= e, "flatten: flatten() has invalid args: start_dim cannot come "
                   "after end_dim");
  if (x.dim() == 0) return reshape_to(x, {1});
  if (s == e) return x;  // PyTorch returns the input itself
  Shape sizes(x.sizes().begin(), x.sizes().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.sizes()[d];
  sizes.push_back(n);
  sizes.insert(sizes.end(), x.sizes().begin() + e + 1, x.sizes().end());
  return reshape_to(x, sizes);
}

Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes) {
  int64_t d = wrap_dim(dim, x.dim(), "unflatten");
  FG_CHECK(x.dim() > 0, "unflatten: cannot unflatten a 0-d tensor");
  FG_CHECK(!sizes.empty(), "unflatten: sizes must be non-empty");
  int64_t n = x.sizes()[d], known = 1, n_infer = 0;
  bool simple = true;  // only sizes >= 0 and at most one -1
  for (int64_t s : sizes) {
    if (s == -1) ++n_infer;
    else if (s < 0) simple = false;
    else if (__builtin_mul_overflow(known, s, &known)) simple = false;
  }
  if (simple && n_infer <= 1) {
    bool fits = n_infer == 0 ? known == n : known != 0 ? n % known == 0 : n == 0;
    FG_CHECK(fits, "unflatten: Provided sizes ", list_str(sizes),
             " don't multiply up to the size of dim ", d, " (", n,
             ") in the input tensor");
  }
  Shape inner = infer_size("unflatten", sizes, n);
  Shape full(x.sizes().begin(), x.sizes().begin() + d);
  full.insert(full.end(), inner.begin(), inner.end());
  full.insert(full.end(), x.sizes().begin() + d + 1, x.sizes().end());
  // Splitting one dim is always expressible as a view.
  Tensor out = make_view(x, full, *view_strides(x.sizes(), x.strides(), full),
                         x.offset());
  record_view("UnflattenBackward", x, out, reshape_back);
  return out;
}

Tensor squeeze(const Tensor& x) {
  Shape sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.sizes()[d] == 1) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  Tensor out = make_view(x, sizes, strides, x.offset());
  record_view("SqueezeBackward", x, out, reshape_back);
  return out;
}

Tensor squeeze(const Tensor& x, const Dims& dims) {
  std::vector<bool> drop(std::max<int64_t>(x.dim(), 1), false);
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, x.dim(), "squeeze");
    FG_CHECK(!drop[d], "squeeze: dim ", d,
             " appears multiple times in the list of dims");
    drop[d] = true;
  }
  Shape sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (drop[d] && x.sizes()[d] == 1) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  Tensor out = make_view(x, sizes, strides, x.offset());
  record_view("SqueezeBackward", x, out, reshape_back);
  return out;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape sizes = x.sizes(), strides = x.strides();
  // The new dim's stride is what a contiguous neighbour would have.
  int64_t st = d >= x.dim() ? 1 : sizes[d] * strides[d];
  sizes.insert(sizes.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  Tensor out = make_view(x, sizes, strides, x.offset());
  record_view("UnsqueezeBackward", x, out, reshape_back);
  return out;
}

namespace {
// Storage elements a geometry reaches past its offset (0 when empty).
int64_t extent(const Shape& sizes, const Shape& strides) {
  if (numel_of(sizes) == 0) return 0;
  int64_t e = 1;
  for (size_t i = 0; i < sizes.size(); ++i) e += (sizes[i] - 1) * strides[i];
  return e;
}

// as_strided's view_fn in view_scatter: it indexes storage, so it needs a
// buffer that is exactly its storage (contiguous, offset 0).
Tensor flat_buffer(const Tensor& t) {
  return t.is_contiguous() && t.offset() == 0 ? t : clone(t);
}

// Note [as_strided backward]
// as_strided indexes x's storage, not x's elements. The gradient is built on
// a flat buffer spanning the storage both x's and the result's geometry
// reach: g is added at the result's positions (view_scatter accumulates where
// they overlap) and x's gradient is x's geometry read back from the buffer.
// Storage positions outside x get no gradient, as in PyTorch.
void record_as_strided(const Tensor& x, const Tensor& out) {
  const int64_t base = std::min(x.offset(), out.offset());
  const int64_t end = std::max(x.offset() + extent(x.sizes(), x.strides()),
                               out.offset() + extent(out.sizes(), out.strides()));
  record_view("AsStridedBackward", x, out,
              [len = end - base, xst = x.strides(), xoff = x.offset() - base,
               ost = out.strides(), ooff = out.offset() - base](
                  const FunctionNode& n, const Tensors& gs) -> Tensors {
                const Shape& xs = n.inputs[0].sizes;
                FG_CHECK(non_overlapping(xs, xst), "as_strided: backward through an input "
                         "whose elements overlap in memory (e.g. an expand()ed tensor) is "
                         "not supported; clone() the input first");
                Shape os = gs[0].sizes();
                Tensor buf = view_scatter(gs[0], {len}, [os, ost, ooff](const Tensor& b) {
                  return as_strided(flat_buffer(b), os, ost, ooff);
                });
                return {as_strided(buf, xs, xst, xoff)};
              });
}
}  // namespace

Tensor as_strided(const Tensor& x, const Shape& size, const Shape& stride,
                  std::optional<int64_t> storage_offset) {
  FG_CHECK(size.size() == stride.size(),
           "as_strided: mismatch in length of strides and shape: got ",
           size.size(), " sizes and ", stride.size(), " strides");
  for (int64_t s : size)
    FG_CHECK(s >= 0, "as_strided: Trying to create tensor with negative "
             "dimension ", s, ": ", list_str(size));
  for (int64_t s : stride)
    FG_CHECK(s >= 0, "as_strided: Negative strides are not supported at the "
             "moment, got strides: ", list_str(stride));
  int64_t offset = storage_offset.value_or(x.offset());
  FG_CHECK(offset >= 0, "as_strided: invalid storage offset ", offset);
  // Elements needed: offset + 1 + sum((size-1)*stride), checked for overflow.
  bool overflow = false;
  int64_t needed = 0;
  if (std::find(size.begin(), size.end(), 0) == size.end()) {
    needed = offset + 1;
    for (size_t i = 0; i < size.size(); ++i) {
      int64_t span;
      overflow |= __builtin_mul_overflow(size[i] - 1, stride[i], &span);
      overflow |= __builtin_add_overflow(needed, span, &needed);
    }
  }
  int64_t bytes;
  overflow |= __builtin_mul_overflow(needed, x.itemsize(), &bytes);
  FG_CHECK(!overflow && bytes <= x.storage()->nbytes(), "as_strided: sizes ",
           list_str(size), ", strides ", list_str(stride), ", storage offset ",
           offset, ", and itemsize ", x.itemsize(), " requiring a storage size of ",
           overflow ? std::string("(overflow)") : std::to_string(bytes),
           " are out of bounds for storage of size ", x.storage()->nbytes());
  Tensor out = make_view(x, size, stride, offset);
  record_as_strided(x, out);
  return out;
}

}  // namespace fastgrad
