// Advanced indexing: index (x[tensors]) and index_put_ (x[tensors] = v).
//
// Note [Advanced indexing as offsets]
// The index tensors broadcast together to a shape B. The result shape is self's
// shape with the indexed dims replaced by B: in place when the indexed dims are
// adjacent, else B goes first (NumPy/PyTorch rule). We build a view of self
// with the result shape whose B dims have stride 0, and an int64 tensor of
// shape B holding sum_k wrap(idx_k) * stride_k (bounds-checked). Then
// result[i] = view[i + off[i]]: one generic gather loop, any number of indices.
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/index_launch.h"

namespace fastgrad {

namespace {

struct Plan {
  Shape shape;  // result (iteration) shape
  Tensor view;  // self restrided to `shape`, stride 0 along the B dims
  Tensor off;   // int64 element offsets viewed at `shape`
  bool any = false;
};

std::string sizes_list(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Bool masks become one int64 index per mask dim (the nonzero columns).
Indices expand_masks(const Tensor& self, const Indices& in) {
  Indices out;
  for (const auto& t : in) {
    if (!t || t->dtype() != DType::Bool) {
      out.push_back(t);
      continue;
    }
    const int64_t k = t->dim(), d0 = static_cast<int64_t>(out.size());
    FG_CHECK_INDEX(k > 0, "index: a 0-d bool index is only supported in Tensor[...]");
    FG_CHECK_INDEX(d0 + k <= self.dim(), "too many indices for tensor of dimension ",
                   self.dim());
    for (int64_t j = 0; j < k; ++j)
      FG_CHECK_INDEX(t->sizes()[j] == self.sizes()[d0 + j], "The shape of the mask ",
                     sizes_list(t->sizes()), " at index ", j,
                     " does not match the shape of the indexed tensor ",
                     sizes_list(self.sizes()), " at index ", d0 + j);
    Tensor nz = nonzero(*t);
    const int64_t n = nz.sizes()[0];
    for (int64_t j = 0; j < k; ++j) out.push_back(make_view(nz, {n}, {k}, nz.offset() + j));
  }
  return out;
}

Plan make_plan(const Tensor& self, const Indices& raw) {
  Indices idx = expand_masks(self, raw);
  const int64_t nd = self.dim();
  FG_CHECK_INDEX(static_cast<int64_t>(idx.size()) <= nd,
                 "too many indices for tensor of dimension ", nd, " (got ", idx.size(), ")");
  idx.resize(nd);
  Plan p;
  Shape B;
  int64_t first = -1, last = -1, count = 0;
  for (int64_t d = 0; d < nd; ++d) {
    if (!idx[d]) continue;
    check_index_dtype("index", *idx[d], true);
    if (count == 0) {
      B = idx[d]->sizes();
    } else {
      try {
        B = broadcast_shapes(B, idx[d]->sizes(), "index");
      } catch (const ValueError&) {
        std::string shapes;
        for (const auto& t : idx)
          if (t) shapes += (shapes.empty() ? "" : ", ") + sizes_list(t->sizes());
        fail<IndexError>("shape mismatch: indexing tensors could not be broadcast "
                         "together with shapes ", shapes);
      }
    }
    if (first < 0) first = d;
    last = d;
    ++count;
  }
  if (count == 0) {  // nothing advanced: the whole tensor
    p.shape = self.sizes();
    p.view = self;
    p.off = scalar_tensor(Scalar(int64_t{0}), DType::Int64);
    return p;
  }
  p.any = true;
  // Offsets over B: each index contributes wrap(i) * stride of its dim.
  Tensor off;
  for (int64_t d = first; d <= last; ++d) {
    if (!idx[d]) continue;
    Tensor o = index_offsets(nullptr, *idx[d], self.sizes()[d], self.strides()[d], d, true);
    if (!off.defined()) {
      off = empty(B, DType::Int64, self.device());
      copy_(off, o);
    } else {
      add_(off, o);
    }
  }
  const bool adjacent = last - first + 1 == count;
  const Shape bstr = contiguous_strides(B);
  Shape vstr, ostr;
  auto put_b = [&] {
    for (size_t j = 0; j < B.size(); ++j) {
      p.shape.push_back(B[j]);
      vstr.push_back(0);
      ostr.push_back(bstr[j]);
    }
  };
  auto put_dim = [&](int64_t d) {
    p.shape.push_back(self.sizes()[d]);
    vstr.push_back(self.strides()[d]);
    ostr.push_back(0);
  };
  if (!adjacent) put_b();
  for (int64_t d = 0; d < nd; ++d) {
    if (idx[d]) {
      if (adjacent && d == first) put_b();
      continue;
    }
    put_dim(d);
  }
  p.view = restride(self, p.shape, vstr);
  p.off = restride(off, p.shape, ostr);
  return p;
}

}  // namespace

Tensor index(const Tensor& self, const Indices& indices) {
  Plan p = make_plan(self, indices);
  Tensor out;
  if (!p.any) {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
  } else {
    out = empty(p.shape, self.dtype(), self.device());
    gather_offsets("index", out, p.view, p.off);
  }
  if (autograd::needs_grad({&self})) {
    // Backward: g accumulated into zeros at the indexed positions (repeated
    // indices add up).
    std::vector<bool> present;
    std::vector<Tensor> saved = defined_indices(indices, present);
    maybe_record("IndexBackward", {self}, {out}, saved,
                 [present, sizes = self.sizes()](const FunctionNode& n,
                                                 const Tensors& gs) -> Tensors {
                   const Tensor& g = gs[0];
                   return {index_put(zeros(sizes, g.dtype(), g.device()),
                                     restore_indices(n, 0, present), g, true)};
                 });
  }
  return out;
}

namespace {
void index_put_raw(const Tensor& self, const Indices& indices, const Tensor& values,
                   bool accumulate) {
  FG_CHECK(values.dtype() == self.dtype(),
           "index_put_: requires the source and destination dtypes match, got ",
           self.dtype(), " for the destination and ", values.dtype(), " for the source");
  Plan p = make_plan(self, indices);
  Shape b;
  try {
    b = broadcast_shapes(p.shape, values.sizes(), "index_put_");
  } catch (const ValueError&) {
  }
  FG_CHECK(b == p.shape, "index_put_: shape mismatch: value tensor of shape ",
           shape_str(values.sizes()), " cannot be broadcast to indexing result of shape ",
           shape_str(p.shape));
  check_writable_nonempty("index_put_", self);
  // A value aliasing self must be read in full before anything is written.
  Tensor v = values.storage() == self.storage() ? clone(values) : values;
  scatter_offsets("index_put_", p.shape, p.view, p.off, v,
                  accumulate ? ScatterMode::Add : ScatterMode::Assign);
  self.bump_version();
}
}  // namespace

const Tensor& index_put_(const Tensor& self, const Indices& indices, const Tensor& values,
                         bool accumulate) {
  if (autograd::needs_grad({&self, &values}))
    return inplace_with_grad("index_put_", self, [&](const Tensor& s) {
      return index_put(s, indices, values, accumulate);
    });
  index_put_raw(self, indices, values, accumulate);
  return self;
}

Tensor index_put(const Tensor& self, const Indices& indices, const Tensor& values,
                 bool accumulate) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    index_put_raw(out, indices, values, accumulate);
  }
  if (autograd::needs_grad({&self, &values})) {
    std::vector<bool> present;
    std::vector<Tensor> saved = defined_indices(indices, present);
    maybe_record("IndexPutBackward", {self, values}, {out}, saved,
                 [present, accumulate](const FunctionNode& n, const Tensors& gs) -> Tensors {
                   Indices ix = restore_indices(n, 0, present);
                   const Tensor& g = gs[0];
                   Tensors r(2);
                   // self: g, except at overwritten positions (assign mode).
                   if (n.needs_input_grad(0))
                     r[0] = accumulate ? g
                                       : index_put(g, ix, scalar_tensor(Scalar(0.0), g.dtype()));
                   // values: g read back at the indices (the engine sums
                   // away the broadcast dims).
                   if (n.needs_input_grad(1)) r[1] = index(g, ix);
                   return r;
                 });
  }
  return out;
}

}  // namespace fastgrad
