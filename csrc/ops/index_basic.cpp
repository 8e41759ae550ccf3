// Tensor.__getitem__ / __setitem__: basic indexing (ints, slices, None,
// Ellipsis) is pure stride arithmetic and yields a view; tensor and bool parts
// are collected per result dim and handed to advanced indexing (a copy).
#include <limits>

#include "ops/elementwise.h"
#include "ops/factory_ops.h"
#include "ops/index_launch.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

using Kind = TensorIndex::Kind;

struct Sliced {
  Tensor view;  // the basic-indexing view
  Indices adv;  // per view dim: an advanced index or none
  bool has_adv = false;
};

// Dims of self an index component consumes.
int64_t consumed(const TensorIndex& ix) {
  switch (ix.kind) {
    case Kind::Int:
    case Kind::Slice: return 1;
    case Kind::Tensor:
      return ix.tensor.dtype() == DType::Bool ? ix.tensor.dim() : 1;
    default: return 0;
  }
}

Sliced apply_slicing(const Tensor& self, const std::vector<TensorIndex>& idx) {
  const int64_t nd = self.dim();
  int64_t used = 0, ellipses = 0;
  for (const auto& ix : idx) {
    used += consumed(ix);
    ellipses += ix.kind == Kind::Ellipsis;
  }
  FG_CHECK_INDEX(ellipses <= 1, "an index can only have a single ellipsis ('...')");
  FG_CHECK_INDEX(used <= nd, "too many indices for tensor of dimension ", nd);

  const Shape& in_sizes = self.sizes();
  const Shape& in_strides = self.strides();
  Shape sizes, strides;
  int64_t offset = self.offset();
  Sliced r;
  int64_t d = 0;  // next dim of self
  auto keep = [&](int64_t k) {  // pass dim k of self through unchanged
    sizes.push_back(in_sizes[k]);
    strides.push_back(in_strides[k]);
    r.adv.emplace_back();
  };
  // Like unsqueeze: a new size-1 dim gets the stride the next dim would need.
  auto new_dim = [&] {
    sizes.push_back(1);
    strides.push_back(d < nd ? in_sizes[d] * in_strides[d] : 1);
    r.adv.emplace_back();
  };
  auto select = [&](int64_t i) {
    const int64_t n = in_sizes[d];
    FG_CHECK_INDEX(i >= -n && i < n, "index ", i, " is out of bounds for dimension ", d,
                   " with size ", n);
    offset += (i < 0 ? i + n : i) * in_strides[d];
    ++d;
  };
  auto bool_index = [&](bool b) {
    // PyTorch: unsqueeze, then index the new dim with [0] (True) or [] (False).
    new_dim();
    r.adv.back() = zeros({b ? 1 : 0}, DType::Int64, self.device());
    r.has_adv = true;
  };

  for (const auto& ix : idx) {
    switch (ix.kind) {
      case Kind::Int: select(ix.start); break;
      case Kind::Slice: {
        const int64_t n = in_sizes[d];
        auto clampi = [n](int64_t v) {
          if (v < 0) v += n;
          return v < 0 ? 0 : (v > n ? n : v);
        };
        int64_t a = clampi(ix.start), b = clampi(ix.stop);
        int64_t len = b > a ? (b - a + ix.step - 1) / ix.step : 0;
        sizes.push_back(len);
        strides.push_back(in_strides[d] * ix.step);
        r.adv.emplace_back();
        offset += a * in_strides[d];
        ++d;
        break;
      }
      case Kind::None: new_dim(); break;
      case Kind::Ellipsis:
        for (int64_t k = 0; k < nd - used; ++k) keep(d++);
        break;
      case Kind::Bool: bool_index(ix.start != 0); break;
      case Kind::Tensor: {
        const Tensor& t = ix.tensor;
        const DType dt = t.dtype();
        FG_CHECK_INDEX(dt == DType::Bool || dt == DType::Int64 || dt == DType::Int32,
                       "tensors used as indices must be long, int or bool tensors, got ", dt);
        FG_CHECK_INDEX(t.device() == self.device(), "indices should be on the same device (",
                       self.device(), ") as the indexed tensor, got ", t.device());
        if (t.dim() == 0) {  // a 0-d tensor acts like the Python number it holds
          const Scalar v = item_scalar("index", t);  // (a CUDA one: read back)
          if (dt == DType::Bool) bool_index(v.to<bool>());
          else select(v.to<int64_t>());
          break;
        }
        // A k-d mask consumes k dims; index() expands it into k index tensors
        // and checks its shape against the dims it covers.
        const int64_t k = dt == DType::Bool ? t.dim() : 1;
        for (int64_t j = 0; j < k; ++j) keep(d++);
        r.adv[r.adv.size() - k] = t;
        for (int64_t j = 1; j < k; ++j) r.adv.pop_back();
        r.has_adv = true;
        // index() needs one entry per view dim; a mask's entry spans k dims.
        break;
      }
    }
  }
  while (d < nd) keep(d++);
  r.view = make_view(self, std::move(sizes), std::move(strides), offset);
  return r;
}

// Basic-only twin of idx: the same view geometry as apply_slicing(self,
// idx).view, without tensors (an advanced part keeps its dims, like `:`).
std::vector<TensorIndex> basic_only(const std::vector<TensorIndex>& idx) {
  std::vector<TensorIndex> r;
  for (const auto& ix : idx) {
    if (ix.kind == Kind::Bool) {
      r.push_back(TensorIndex::none());
    } else if (ix.kind != Kind::Tensor) {
      r.push_back(ix);
    } else if (ix.tensor.dim() == 0) {
      const Tensor& t = ix.tensor;
      if (t.dtype() == DType::Bool) r.push_back(TensorIndex::none());
      else r.push_back(TensorIndex::integer(item_scalar("index", t).to<int64_t>()));
    } else {
      const int64_t k = ix.tensor.dtype() == DType::Bool ? ix.tensor.dim() : 1;
      for (int64_t j = 0; j < k; ++j)
        r.push_back(TensorIndex::slice(0, std::numeric_limits<int64_t>::max(), 1));
    }
  }
  return r;
}

// Plain setitem: no autograd.
void setitem_raw(const Tensor& self, const std::vector<TensorIndex>& idx, const Tensor& value) {
  Sliced s = apply_slicing(self, idx);
  // PyTorch drops the value's leading size-1 dims (x[0] = ones(1, n) works).
  Tensor v = value;
  int64_t lead = 0;
  while (lead < v.dim() && v.sizes()[lead] == 1) ++lead;
  if (lead) {
    v = make_view(v, Shape(v.sizes().begin() + lead, v.sizes().end()),
                  Shape(v.strides().begin() + lead, v.strides().end()), v.offset());
  }
  if (!s.has_adv) {
    Shape b;
    try {
      b = broadcast_shapes(s.view.sizes(), v.sizes(), "setitem");
    } catch (const ValueError&) {
    }
    FG_CHECK(b == s.view.sizes(), "setitem: shape mismatch: value tensor of shape ",
             shape_str(value.sizes()), " cannot be broadcast to indexing result of shape ",
             shape_str(s.view.sizes()));
    if (s.view.numel() == 0) return self.bump_version();
    copy_(s.view, v);  // casts, broadcasts, handles overlap, bumps the version
    return;
  }
  index_put_(s.view, s.adv, to_dtype(v, self.dtype()));
}

// The value's gradient: g at the indexed positions, summed to the value's
// shape without the leading size-1 dims setitem dropped, then given them back.
Tensor setitem_value_grad(const Tensor& g, const Shape& vsizes) {
  size_t lead = 0;
  while (lead < vsizes.size() && vsizes[lead] == 1) ++lead;
  Shape stripped(vsizes.begin() + lead, vsizes.end());
  Tensor r = sum_to(g, stripped);
  return lead ? reshape(r, vsizes) : r;
}

// Out-of-place setitem (a copy of self with idx set to value), recorded: the
// differentiable core of __setitem__ when autograd is involved.
Tensor setitem_recorded(const Tensor& self, const std::vector<TensorIndex>& idx,
                        const Tensor& value) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(self);
    setitem_raw(out, idx, value);
  }
  if (!autograd::needs_grad({&self, &value})) return out;
  std::vector<TensorIndex> spec = idx;
  std::vector<Tensor> saved = take_index_tensors(spec);
  maybe_record("IndexPutBackward", {self, value}, {out}, saved,
               [spec, vsizes = value.sizes()](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 std::vector<TensorIndex> ix = restore_index_tensors(spec, n, 0);
                 const Tensor& g = gs[0];
                 Tensors r(2);
                 // self: g with the overwritten positions zeroed.
                 if (n.needs_input_grad(0))
                   r[0] = setitem_recorded(g, ix, scalar_tensor(Scalar(0.0), g.dtype()));
                 if (n.needs_input_grad(1)) r[1] = setitem_value_grad(getitem(g, ix), vsizes);
                 return r;
               });
  return out;
}

}  // namespace

Tensor view_scatter(const Tensor& g, const Shape& sizes, const std::vector<TensorIndex>& basic) {
  Tensor z;
  {
    autograd::GradModeGuard no_grad(false);
    z = zeros(sizes, g.dtype(), g.device());
    copy_(apply_slicing(z, basic).view, g);
  }
  // Linear in g: its backward re-applies the view (double backward of getitem).
  maybe_record("IndexViewBackwardBackward", {g}, {z}, {},
               [basic](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {getitem(gs[0], basic)};
               });
  return z;
}

Tensor getitem(const Tensor& self, const std::vector<TensorIndex>& idx) {
  Sliced s = apply_slicing(self, idx);
  // Pure advanced indexing (x[t]) leaves self's geometry alone: index self.
  const bool same = s.has_adv && s.view.sizes() == self.sizes() &&
                    s.view.strides() == self.strides() && s.view.offset() == self.offset();
  if (same) return index(self, s.adv);
  mark_view(s.view, self);
  if (autograd::needs_grad({&self})) {
    // Backward: zeros of self's shape with g written through the same view.
    maybe_record("IndexViewBackward", {self}, {s.view}, {},
                 [basic = basic_only(idx), sizes = self.sizes()](const FunctionNode&,
                                                                 const Tensors& gs) -> Tensors {
                   return {view_scatter(gs[0], sizes, basic)};
                 });
  }
  return s.has_adv ? index(s.view, s.adv) : s.view;
}

void setitem(const Tensor& self, const std::vector<TensorIndex>& idx, const Tensor& value) {
  if (!autograd::needs_grad({&self, &value})) return setitem_raw(self, idx, value);
  inplace_with_grad("setitem", self,
                    [&](const Tensor& s) { return setitem_recorded(s, idx, value); });
}

}  // namespace fastgrad
