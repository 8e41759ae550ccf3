// The one-dim gather/scatter family: index_select, gather, scatter(_add),
// index_add, index_fill. Each validates shapes and indices, then builds
// the restrided views of Note [Advanced indexing as offsets] and runs the
// shared gather/scatter loop.
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/index_launch.h"

namespace fastgrad {

namespace {

// `t`'s strides with dim d replaced by s.
Shape strides_with(const Tensor& t, int64_t d, int64_t s) {
  Shape st = t.strides();
  st[d] = s;
  return st;
}

// A 1-D (or 0-d) index's offsets along dim d of `self`, viewed at `shape`
// (its entries run along dim d, broadcast over the others).
Tensor offsets_along(const char* op, const Tensor& self, int64_t d, const Tensor& index,
                     const Shape& shape, bool allow_negative) {
  Tensor off = index_offsets(op, index, self.sizes()[d], self.strides()[d], d, allow_negative);
  Shape st(shape.size(), 0);
  st[d] = 1;
  return restride(off, shape, st);
}

void check_vector_index(const char* op, const Tensor& index) {
  check_index_dtype(op, index, true);
  FG_CHECK_INDEX(index.dim() <= 1, op, ": index is supposed to be a vector, got a ",
                 index.dim(), "-D tensor");
}

// gather/scatter shape rules: same number of dims; index no larger than
// `other` in every dim except (when skip >= 0) dim `skip`.
void check_no_larger(const char* op, const Tensor& index, const Tensor& other,
                     const char* what, int64_t skip) {
  FG_CHECK(index.dim() == other.dim(), op, ": index tensor must have the same number of "
           "dimensions as ", what, " tensor (", index.dim(), " vs ", other.dim(), ")");
  for (int64_t k = 0; k < index.dim(); ++k)
    FG_CHECK(k == skip || index.sizes()[k] <= other.sizes()[k], op,
             ": size does not match at dimension ", k, ": expected index ",
             shape_str(index.sizes()), " to be no larger than ", what, " ",
             shape_str(other.sizes()), skip >= 0 ? " apart from dimension " : "",
             skip >= 0 ? std::to_string(skip) : std::string());
}

ScatterMode parse_reduce(const char* op, const std::string& reduce) {
  if (reduce.empty()) return ScatterMode::Assign;
  if (reduce == "add") return ScatterMode::Add;
  if (reduce == "multiply") return ScatterMode::Multiply;
  fail<ValueError>(op, ": reduce argument must be either add or multiply, got '", reduce, "'");
}

// self[... index[i] ...] (op)= val[i]: the scatter core shared by scatter_ with a
// tensor or a scalar source. val broadcasts to index's shape.
void scatter_core(const char* op, const Tensor& self, int64_t dim, const Tensor& index,
                  const Tensor& val, ScatterMode mode) {
  check_index_dtype(op, index, false);
  Tensor s = as_1d(self), ix = as_1d(index);
  const int64_t d = wrap_dim(dim, self.dim(), op);
  check_no_larger(op, ix, s, "self", d);
  check_writable_nonempty(op, self);
  Tensor off = restride(index_offsets(op, ix, s.sizes()[d], s.strides()[d], d, false),
                        ix.sizes(), contiguous_strides(ix.sizes()));
  Tensor dst = restride(s, ix.sizes(), strides_with(s, d, 0));
  Tensor v = val.storage() == self.storage() ? clone(val) : val;
  scatter_offsets(op, ix.sizes(), dst, off, v, mode);
  self.bump_version();
}

// src's gradient when only the index-shaped corner of src was read: the
// gathered g placed in that corner of zeros (differentiably).
Tensor corner_grad(const Tensor& gathered, const Shape& src_sizes) {
  if (gathered.sizes() == src_sizes) return gathered;
  std::vector<TensorIndex> corner;
  for (size_t k = 0; k < src_sizes.size(); ++k)
    corner.push_back(TensorIndex::slice(0, k < gathered.sizes().size() ? gathered.sizes()[k] : 1, 1));
  return view_scatter(gathered, src_sizes, corner);
}

Tensor zeros_for(const Tensor& g, const Shape& sizes) {
  return zeros(sizes, g.dtype(), g.device());
}

}  // namespace

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index) {
  check_vector_index("index_select", index);
  Tensor s = as_1d(self);
  const int64_t d = wrap_dim(dim, self.dim(), "index_select");
  Shape shape = s.sizes();
  shape[d] = index.numel();
  Tensor off = offsets_along("index_select", s, d, as_1d(index), shape, false);
  Tensor out = empty(shape, self.dtype(), self.device());
  gather_offsets("index_select", out, restride(s, shape, strides_with(s, d, 0)), off);
  // A 0-d self gives a 0-d result (PyTorch).
  if (self.dim() == 0) out = restride(out, {}, {});
  maybe_record("IndexSelectBackward", {self}, {out}, {index},
               [d, sizes = self.sizes()](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {index_add(zeros_for(gs[0], sizes), d, n.saved(0), gs[0])};
               });
  return out;
}

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index) {
  check_index_dtype("gather", index, false);
  Tensor s = as_1d(self), ix = as_1d(index);
  const int64_t d = wrap_dim(dim, self.dim(), "gather");
  check_no_larger("gather", ix, s, "input", d);
  Tensor out = empty(index.sizes(), self.dtype(), self.device());
  Tensor off = restride(index_offsets("gather", ix, s.sizes()[d], s.strides()[d], d, false),
                        ix.sizes(), contiguous_strides(ix.sizes()));
  Tensor src = restride(s, ix.sizes(), strides_with(s, d, 0));
  gather_offsets("gather", restride(out, ix.sizes(), contiguous_strides(ix.sizes())), src,
                 off);
  maybe_record("GatherBackward", {self}, {out}, {index},
               [d, sizes = self.sizes()](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {scatter_add(zeros_for(gs[0], sizes), d, n.saved(0), gs[0])};
               });
  return out;
}

namespace {
void scatter_src_raw(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                     const std::string& reduce) {
  FG_CHECK(src.dtype() == self.dtype(), "scatter: expected self.dtype to be equal to "
           "src.dtype, got ", self.dtype(), " and ", src.dtype());
  ScatterMode mode = parse_reduce("scatter", reduce);
  Tensor s1 = as_1d(src), ix = as_1d(index);
  check_no_larger("scatter", ix, s1, "src", -1);
  // Only the index-shaped corner of src is read.
  scatter_core("scatter", self, dim, index,
               restride(s1, ix.sizes(), s1.strides()), mode);
}

// PyTorch has no derivative for scatter with a reduction either; fail at the
// forward instead of producing no gradient.
void check_no_reduce_grad(const std::string& reduce) {
  FG_CHECK_KIND(NotImplementedError, reduce.empty(), "scatter: the derivative for reduce='",
                reduce, "' is not implemented (use scatter_add for a differentiable sum)");
}
}  // namespace

const Tensor& scatter_(const Tensor& self, int64_t dim, const Tensor& index,
                       const Tensor& src, const std::string& reduce) {
  if (autograd::needs_grad({&self, &src}))
    return inplace_with_grad("scatter_", self, [&](const Tensor& s) {
      return scatter(s, dim, index, src, reduce);
    });
  scatter_src_raw(self, dim, index, src, reduce);
  return self;
}

const Tensor& scatter_(const Tensor& self, int64_t dim, const Tensor& index,
                       const Scalar& value, const std::string& reduce) {
  if (autograd::needs_grad({&self}))
    return inplace_with_grad("scatter_", self, [&](const Tensor& s) {
      return scatter(s, dim, index, value, reduce);
    });
  ScatterMode mode = parse_reduce("scatter", reduce);
  scatter_core("scatter", self, dim, index, scalar_tensor(value, self.dtype()), mode);
  return self;
}

Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
               const std::string& reduce) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    scatter_src_raw(out, dim, index, src, reduce);
  }
  if (autograd::needs_grad({&self, &src})) {
    check_no_reduce_grad(reduce);
    const int64_t d = wrap_dim(dim, self.dim(), "scatter");
    // self: g where nothing was written; src: g read back at the indices.
    maybe_record("ScatterBackward", {self, src}, {out}, {index},
                 [d, ssizes = src.sizes()](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   Tensor ix = n.saved(0);
                   Tensors r(2);
                   if (n.needs_input_grad(0)) r[0] = scatter(gs[0], d, ix, Scalar(0.0));
                   if (n.needs_input_grad(1)) r[1] = corner_grad(gather(gs[0], d, ix), ssizes);
                   return r;
                 });
  }
  return out;
}
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value,
               const std::string& reduce) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    scatter_(out, dim, index, value, reduce);
  }
  if (autograd::needs_grad({&self})) {
    check_no_reduce_grad(reduce);
    const int64_t d = wrap_dim(dim, self.dim(), "scatter");
    maybe_record("ScatterBackward", {self}, {out}, {index},
                 [d](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   return {scatter(gs[0], d, n.saved(0), Scalar(0.0))};
                 });
  }
  return out;
}

namespace {
void scatter_add_raw(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  FG_CHECK(src.dtype() == self.dtype(), "scatter_add: expected self.dtype to be equal to "
           "src.dtype, got ", self.dtype(), " and ", src.dtype());
  Tensor s1 = as_1d(src), ix = as_1d(index);
  check_index_dtype("scatter_add", index, false);
  check_no_larger("scatter_add", ix, s1, "src", -1);
  scatter_core("scatter_add", self, dim, index, restride(s1, ix.sizes(), s1.strides()),
               ScatterMode::Add);
}
}  // namespace

const Tensor& scatter_add_(const Tensor& self, int64_t dim, const Tensor& index,
                           const Tensor& src) {
  if (autograd::needs_grad({&self, &src}))
    return inplace_with_grad("scatter_add_", self, [&](const Tensor& s) {
      return scatter_add(s, dim, index, src);
    });
  scatter_add_raw(self, dim, index, src);
  return self;
}
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    scatter_add_raw(out, dim, index, src);
  }
  if (autograd::needs_grad({&self, &src})) {
    const int64_t d = wrap_dim(dim, self.dim(), "scatter_add");
    maybe_record("ScatterAddBackward", {self, src}, {out}, {index},
                 [d, ssizes = src.sizes()](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   Tensors r{gs[0], Tensor()};
                   if (n.needs_input_grad(1))
                     r[1] = corner_grad(gather(gs[0], d, n.saved(0)), ssizes);
                   return r;
                 });
  }
  return out;
}

namespace {
void index_add_raw(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                   const Scalar& alpha) {
  const char* op = "index_add_";
  check_vector_index(op, index);
  FG_CHECK(source.dtype() == self.dtype(), op, ": self (", self.dtype(), ") and source (",
           source.dtype(), ") must have the same scalar type");
  Tensor s = as_1d(self), src = as_1d(source);
  const int64_t d = wrap_dim(dim, self.dim(), op);
  FG_CHECK(src.dim() == s.dim(), op, ": source ", shape_str(source.sizes()), " and self ",
           shape_str(self.sizes()), " must have the same number of dimensions");
  for (int64_t k = 0; k < s.dim(); ++k)
    FG_CHECK(k == d || src.sizes()[k] == s.sizes()[k], op,
             ": source tensor shape must match self tensor shape, excluding the specified "
             "dimension. Got self.shape = ", shape_str(self.sizes()), " source.shape = ",
             shape_str(source.sizes()));
  FG_CHECK(index.numel() == src.sizes()[d], op, ": number of indices (", index.numel(),
           ") should be equal to source.size(dim) (", src.sizes()[d], ")");
  check_writable_nonempty(op, self);
  Tensor off = offsets_along(op, s, d, as_1d(index), src.sizes(), false);
  Tensor v = source;
  if (!(alpha.kind != Scalar::Kind::Float && alpha.i == 1)) v = mul(source, alpha);
  v = to_dtype(v, self.dtype());
  if (v.storage() == self.storage()) v = clone(v);
  scatter_offsets(op, src.sizes(), restride(s, src.sizes(), strides_with(s, d, 0)), off,
                  as_1d(v), ScatterMode::Add);
  self.bump_version();
}
}  // namespace

const Tensor& index_add_(const Tensor& self, int64_t dim, const Tensor& index,
                         const Tensor& source, const Scalar& alpha) {
  if (autograd::needs_grad({&self, &source}))
    return inplace_with_grad("index_add_", self, [&](const Tensor& s) {
      return index_add(s, dim, index, source, alpha);
    });
  index_add_raw(self, dim, index, source, alpha);
  return self;
}
Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    index_add_raw(out, dim, index, source, alpha);
  }
  if (autograd::needs_grad({&self, &source})) {
    const int64_t d = wrap_dim(dim, self.dim(), "index_add");
    const bool unit = alpha.kind != Scalar::Kind::Float && alpha.i == 1;
    // source: alpha * g read back at the indices.
    maybe_record("IndexAddBackward", {self, source}, {out}, {index},
                 [d, alpha, unit](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   Tensors r{gs[0], Tensor()};
                   if (n.needs_input_grad(1)) {
                     r[1] = index_select(gs[0], d, n.saved(0));
                     if (!unit) r[1] = mul(r[1], alpha);
                   }
                   return r;
                 });
  }
  return out;
}

namespace {
void index_fill_raw(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value) {
  const char* op = "index_fill_";
  check_vector_index(op, index);
  Tensor s = as_1d(self);
  const int64_t d = wrap_dim(dim, self.dim(), op);
  check_writable_nonempty(op, self);
  Shape shape = s.sizes();
  shape[d] = index.numel();
  Tensor off = offsets_along(op, s, d, as_1d(index), shape, true);
  scatter_offsets(op, shape, restride(s, shape, strides_with(s, d, 0)), off,
                  scalar_tensor(value, self.dtype()), ScatterMode::Assign);
  self.bump_version();
}
}  // namespace

const Tensor& index_fill_(const Tensor& self, int64_t dim, const Tensor& index,
                          const Scalar& value) {
  if (autograd::needs_grad({&self}))
    return inplace_with_grad("index_fill_", self, [&](const Tensor& s) {
      return index_fill(s, dim, index, value);
    });
  index_fill_raw(self, dim, index, value);
  return self;
}
Tensor index_fill(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    index_fill_raw(out, dim, index, value);
  }
  if (autograd::needs_grad({&self})) {
    const int64_t d = wrap_dim(dim, self.dim(), "index_fill");
    maybe_record("IndexFillBackward", {self}, {out}, {index},
                 [d](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   return {index_fill(gs[0], d, n.saved(0), Scalar(0.0))};
                 });
  }
  return out;
}

// A 0-d tensor value: differentiable in the value too. Its gradient is the sum
// of g over the filled positions, so fill a mask and select with where.
Tensor index_fill(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& value) {
  if (!autograd::needs_grad({&value})) return index_fill(self, dim, index, item_scalar("index_fill", value));
  item_scalar("index_fill", value);  // the 0-d check
  Tensor mask = zeros(self.sizes(), DType::Bool, self.device());
  index_fill_raw(mask, dim, index, Scalar(true));
  return where(mask, to_dtype(value, self.dtype()), self);
}
const Tensor& index_fill_(const Tensor& self, int64_t dim, const Tensor& index,
                          const Tensor& value) {
  if (!autograd::needs_grad({&self, &value}))
    return index_fill_(self, dim, index, item_scalar("index_fill_", value));
  return inplace_with_grad("index_fill_", self, [&](const Tensor& s) {
    return index_fill(s, dim, index, value);
  });
}

}  // namespace fastgrad
