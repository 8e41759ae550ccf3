// Extremes: max/min (all, or values + indices along a dim), amax/amin,
// argmax/argmin. One row functor finds the index of the extreme; the value
// ops read the element at that index.
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/grad_utils.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

// Index of the first max (IsMax) or min in a row; the first NaN wins, as in
// PyTorch. Rows are never empty here (checked by the ops).
template <bool IsMax>
struct ArgRow {
  template <class T> math::ArgOp<T, IsMax> combiner() const { return {}; }
  template <class T> int64_t operator()(const T* p, int64_t s, int64_t n) const {
    int64_t best = 0;
    T bv = p[0];
    if (bv != bv) return 0;
    for (int64_t i = 1; i < n; ++i) {
      T v = p[i * s];
      if (v != v) return i;
      if (IsMax ? v > bv : v < bv) { bv = v; best = i; }
    }
    return best;
  }
};

template <bool IsMax>
struct ValueRow {
  template <class T> math::ArgOp<T, IsMax, true> combiner() const { return {}; }
  template <class T> T operator()(const T* p, int64_t s, int64_t n) const {
    return p[ArgRow<IsMax>{}(p, s, n) * s];
  }
};

// Value extremes (amax, max over everything): like PyTorch, the gradient is
// shared evenly among the elements equal to the extreme.
template <bool IsMax>
Tensor extreme_values(const char* op, const char* node, const Tensor& x, const DimList& dim,
                      bool keepdim) {
  auto mask = reduce_mask(op, x, dim);
  check_nonempty_reduction(op, x, mask, dim && !dim->empty());
  // 16-bit floats on CUDA: the extreme of the float32 values is exact.
  Tensor xc = kernel_input(x);
  Tensor out = dispatch(xc.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T>(op, xc, mask, keepdim, ValueRow<IsMax>{});
  });
  out = to_dtype_nograd(out, x.dtype());
  maybe_record(node, {x}, {out}, {x, out},
               [mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor x = n.saved(0);
                 Tensor hit = eq(x, expand_reduced(n.saved(1), x.sizes(), mask));
                 Tensor count = sum(hit, mask_dims(mask), /*keepdim=*/true);
                 return {div(mul(expand_reduced(gs[0], x.sizes(), mask), hit), count)};
               });
  return out;
}


template <bool IsMax>
void record_extreme_dim(const Tensor& x, const Tensor& values, const Tensor& indices,
                        const std::vector<bool>& mask);

template <bool IsMax>
std::pair<Tensor, Tensor> extreme_dim(const char* op, const Tensor& x, int64_t dim,
                                      bool keepdim) {
  auto mask = reduce_mask(op, x, dim);
  check_nonempty_reduction(op, x, mask, true);
  Shape shape = reduced_shape(x, mask, keepdim);
  if (x.device().is_cuda()) {
    // Two passes of the same deterministic combiner (argmax, then its value).
    Tensor xc = kernel_input(x);
    Tensor values, indices;
    dispatch(xc.dtype(), [&](auto tag) {
      using T = decltype(tag);
      indices = reduce_rows<T>(op, xc, mask, keepdim, ArgRow<IsMax>{}, /*ordered=*/true);
      values = reduce_rows<T>(op, xc, mask, keepdim, ValueRow<IsMax>{});
    });
    values = to_dtype_nograd(values, x.dtype());
    record_extreme_dim<IsMax>(x, values, indices, mask);
    return {values, indices};
  }
  check_cpu(op, x);
  Tensor xc = kernel_input(x);
  Tensor values = empty(shape, xc.dtype(), x.device());
  Tensor indices = empty(shape, DType::Int64, x.device());
  dispatch(xc.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* vo = values.data<T>();
    int64_t* io = indices.data<int64_t>();
    auto L = cpu::make_row_layout(xc, mask, /*ordered=*/true);
    cpu::for_each_row<T>(L, [&](int64_t r, const T* p, int64_t s, int64_t n) {
      int64_t i = ArgRow<IsMax>{}(p, s, n);
      io[r] = i;
      vo[r] = p[i * s];
    });
  });
  values = to_dtype_nograd(values, x.dtype());
  record_extreme_dim<IsMax>(x, values, indices, mask);
  return {values, indices};
}

// The gradient goes to the selected index only: a one-hot mask along dim
// built by comparing positions with the indices.
template <bool IsMax>
void record_extreme_dim(const Tensor& x, const Tensor& values, const Tensor& indices,
                        const std::vector<bool>& mask) {
  maybe_record(IsMax ? "MaxBackward" : "MinBackward", {x}, {values, indices}, {indices},
               [mask](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor idx = n.saved(0);
                 const Shape& full = n.inputs[0].sizes;
                 Shape line(full.size(), 1);
                 int64_t len = 1;
                 for (size_t d = 0; d < full.size(); ++d)
                   if (mask[d]) line[d] = len = full[d];
                 Tensor pos = reshape(arange(0, len, 1, DType::Int64, idx.device()), line);
                 Tensor onehot = eq(pos, expand_reduced(idx, full, mask));
                 return {where(onehot, expand_reduced(gs[0], full, mask), 0.0)};
               });
}

template <bool IsMax>
Tensor arg_extreme(const char* op, const Tensor& x, std::optional<int64_t> dim,
                   bool keepdim) {
  FG_CHECK(x.dtype() != DType::Bool, op, "(): does not support bool input");
  auto mask = dim ? reduce_mask(op, x, *dim) : std::vector<bool>(x.dim(), true);
  // PyTorch raises IndexError here, unlike max()'s RuntimeError.
  FG_CHECK_INDEX(dim || x.numel() != 0, op, "(): Expected reduction dim to be specified "
                 "for input.numel() == 0.");
  check_nonempty_reduction(op, x, mask, dim.has_value());
  Tensor xc = kernel_input(x);
  return dispatch(xc.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T>(op, xc, mask, keepdim, ArgRow<IsMax>{}, /*ordered=*/true);
  });
}

}  // namespace

Tensor max_all(const Tensor& x) {
  return extreme_values<true>("max", "MaxBackward", x, std::nullopt, false);
}
Tensor min_all(const Tensor& x) {
  return extreme_values<false>("min", "MinBackward", x, std::nullopt, false);
}
std::pair<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim<true>("max", x, dim, keepdim);
}
std::pair<Tensor, Tensor> min_dim(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim<false>("min", x, dim, keepdim);
}
Tensor amax(const Tensor& x, const DimList& dim, bool keepdim) {
  return extreme_values<true>("amax", "AmaxBackward", x, dim, keepdim);
}
Tensor amin(const Tensor& x, const DimList& dim, bool keepdim) {
  return extreme_values<false>("amin", "AminBackward", x, dim, keepdim);
}
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme<true>("argmax", x, dim, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme<false>("argmin", x, dim, keepdim);
}

}  // namespace fastgrad
