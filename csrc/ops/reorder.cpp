// Copies that rearrange elements: repeat, tile, flip, roll, tril, triu.
// Each builds a strided view of the source or destination so that the data
// moves through copy_ (one strided loop, any dtype), never a loop of its own.
#include <algorithm>

#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

namespace {
Tensor repeat_impl(const Tensor& x, const Shape& repeats) {
  const int64_t n = static_cast<int64_t>(repeats.size());
  FG_CHECK(n >= x.dim(), "repeat: Number of dimensions of repeat dims can not be "
           "smaller than number of dimensions of tensor");
  const int64_t lead = n - x.dim();
  Shape out_shape(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t s = i < lead ? 1 : x.sizes()[i - lead];
    FG_CHECK(!__builtin_mul_overflow(repeats[i], s, &out_shape[i]),
             "repeat: the repeated size of dim ", i, " overflows int64");
  }
  for (int64_t i = 0; i < n; ++i)
    FG_CHECK(repeats[i] >= 0, "repeat: Trying to create tensor with negative "
             "dimension ", out_shape[i], ": ", list_str(out_shape));
  int64_t bytes = x.itemsize();
  for (int64_t s : out_shape)
    FG_CHECK(!__builtin_mul_overflow(bytes, s, &bytes), "repeat: the result of shape ",
             list_str(out_shape), " is too large");
  Tensor out = empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  // See the output as (r0, s0, r1, s1, ...) and the input as (1, s0, 1, s1, ...):
  // copy_ broadcasts the input over every repeat index at once.
  Shape dst_sizes, dst_strides, src_sizes, src_strides;
  for (int64_t i = 0; i < n; ++i) {
    int64_t s = i < lead ? 1 : x.sizes()[i - lead];
    int64_t st = out.strides()[i];
    dst_sizes.insert(dst_sizes.end(), {repeats[i], s});
    dst_strides.insert(dst_strides.end(), {st * s, st});
    src_sizes.insert(src_sizes.end(), {1, s});
    src_strides.insert(src_strides.end(), {0, i < lead ? 0 : x.strides()[i - lead]});
  }
  copy_(make_view(out, dst_sizes, dst_strides, 0),
        make_view(x, src_sizes, src_strides, x.offset()));
  return out;
}
}  // namespace

Tensor repeat(const Tensor& x, const Shape& repeats) {
  Tensor out = repeat_impl(x, repeats);
  // g seen as (r0, s0, r1, s1, ...) summed over the repeat dims.
  maybe_record("RepeatBackward", {x}, {out}, {},
               [repeats](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Shape& xs = n.inputs[0].sizes;
                 const size_t lead = repeats.size() - xs.size();
                 Shape blocks, kept;
                 for (size_t i = 0; i < repeats.size(); ++i) {
                   int64_t s = i < lead ? 1 : xs[i - lead];
                   blocks.insert(blocks.end(), {repeats[i], s});
                   kept.insert(kept.end(), {1, s});
                 }
                 return {reshape(sum_to_grad(reshape(gs[0], blocks), kept), xs)};
               });
  return out;
}

Tensor tile(const Tensor& x, const Shape& reps) {
  Shape r = reps;
  if (static_cast<int64_t>(r.size()) < x.dim()) r.insert(r.begin(), x.dim() - r.size(), 1);
  return repeat(x, r);
}

namespace {
// Note [flip keeps the layout]
// PyTorch allocates flip's result like the input (memory format "preserve"):
// a dense input's strides are kept as they are; otherwise dims are ordered by
// decreasing stride, leaving stride-0 and size-1 dims where they are since
// their order is ambiguous.
Tensor empty_like_layout(const Tensor& x) {
  const int64_t nd = x.dim();
  const Shape& st = x.strides();
  Dims order(nd);  // outermost first
  for (int64_t i = 0; i < nd; ++i) order[i] = i;
  auto before = [&](int64_t a, int64_t b) {
    return st[a] > st[b] && st[b] != 0 && x.sizes()[a] != 1 && x.sizes()[b] != 1;
  };
  for (int64_t i = 1; i < nd; ++i)
    for (int64_t j = i; j > 0 && before(order[j], order[j - 1]); --j)
      std::swap(order[j], order[j - 1]);
  Shape sizes;
  for (int64_t d : order) sizes.push_back(x.sizes()[d]);
  Tensor buf = empty(sizes, x.dtype(), x.device());
  Shape strides(nd);
  for (int64_t i = 0; i < nd; ++i) strides[order[i]] = buf.strides()[i];
  // Dense input: the same strides (which may differ on size-1 dims).
  bool dense = true;
  for (int64_t d = 0; d < nd; ++d)
    dense &= x.sizes()[d] == 1 || st[d] == strides[d];
  return make_view(buf, x.sizes(), dense ? st : strides, 0);
}

Tensor flip_impl(const Tensor& x, const Dims& dims) {
  std::vector<bool> flipped(std::max<int64_t>(x.dim(), 1), false);
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, x.dim(), "flip");
    FG_CHECK(!flipped[d], "flip: dim ", d, " appears multiple times in the list of dims");
    flipped[d] = true;
  }
  if (x.numel() == 0) return clone(x);
  // A read-only view walking the flipped dims backwards (negative strides
  // never escape this function).
  Shape strides = x.strides();
  int64_t offset = x.offset();
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!flipped[d]) continue;
    offset += (x.sizes()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  Tensor out = empty_like_layout(x);
  copy_(out, make_view(x, x.sizes(), strides, offset));
  return out;
}
}  // namespace

Tensor flip(const Tensor& x, const Dims& dims) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);  // one node for the whole op
    out = flip_impl(x, dims);
  }
  maybe_record("FlipBackward", {x}, {out}, {},
               [dims](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {flip(gs[0], dims)};
               });
  return out;
}

namespace {
Tensor roll_impl(const Tensor& x, const Shape& shifts, const Dims& dims) {
  if (dims.empty()) {
    FG_CHECK(shifts.size() == 1, "roll: shifts and dimensions must align. shifts: ",
             shifts.size(), ", dims:", dims.size());
    return reshape(roll_impl(flatten(x), shifts, {0}), x.sizes());
  }
  FG_CHECK(shifts.size() == dims.size(), "roll: shifts and dimensions must align. "
           "shifts: ", shifts.size(), ", dims:", dims.size());
  Tensor cur = x;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "roll");
    if (x.dim() == 0) continue;
    const int64_t n = x.sizes()[d];
    if (n == 0) continue;
    const int64_t s = ((shifts[i] % n) + n) % n;
    if (s == 0) continue;
    // out[s:] = cur[:n-s]; out[:s] = cur[n-s:]
    Tensor out = empty(x.sizes(), x.dtype(), x.device());
    copy_(narrow(out, d, s, n - s), narrow(cur, d, 0, n - s));
    copy_(narrow(out, d, 0, s), narrow(cur, d, n - s, s));
    cur = out;
  }
  return cur.is_same(x) ? clone(x) : cur;
}
}  // namespace

Tensor roll(const Tensor& x, const Shape& shifts, const Dims& dims) {
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);  // one node for the whole op
    out = roll_impl(x, shifts, dims);
  }
  // Rolling back by -shift; shifts are reduced mod the size first, so that
  // negating cannot overflow.
  Shape back;
  for (size_t i = 0; i < shifts.size(); ++i) {
    int64_t n = dims.empty() ? x.numel() : x.dim() == 0 ? 1 : x.sizes()[wrap_dim(dims[i], x.dim(), "roll")];
    back.push_back(n == 0 ? 0 : -(shifts[i] % n));
  }
  maybe_record("RollBackward", {x}, {out}, {},
               [back, dims](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {roll(gs[0], back, dims)};
               });
  return out;
}

namespace {
// Zeroes the part of every matrix (last two dims) outside the kept triangle:
// lower keeps j - i <= k, upper keeps j - i >= k. Works row by row or column
// by column, whichever is fewer fill_ calls (each covers the whole batch).
const Tensor& triangle_(const char* op, const Tensor& x, int64_t k, bool lower) {
  FG_CHECK(x.dim() >= 2, op, ": input tensor must have at least 2 dimensions");
  check_writable(op, x);
  const int64_t rows = x.sizes()[x.dim() - 2], cols = x.sizes()[x.dim() - 1];
  // Clamp k so that i + k and j - k cannot overflow.
  k = std::clamp<int64_t>(k, -rows - 1, cols + 1);
  auto zero = [&](const Tensor& line, int64_t lo, int64_t hi, int64_t len) {
    lo = std::clamp<int64_t>(lo, 0, len);
    hi = std::clamp<int64_t>(hi, 0, len);
    if (lo < hi) fill_(narrow(line, -1, lo, hi - lo), Scalar(int64_t{0}));
  };
  if (rows <= cols) {
    for (int64_t i = 0; i < rows; ++i) {
      Tensor row = select(x, -2, i);
      if (lower) zero(row, i + k + 1, cols, cols);
      else zero(row, 0, i + k, cols);
    }
  } else {
    for (int64_t j = 0; j < cols; ++j) {
      Tensor col = select(x, -1, j);
      if (lower) zero(col, 0, j - k, rows);
      else zero(col, j - k + 1, rows, rows);
    }
  }
  x.bump_version();
  return x;
}
}  // namespace

const Tensor& tril_(const Tensor& x, int64_t diagonal) {
  if (autograd::needs_grad({&x}))
    return inplace_with_grad("tril_", x, [&](const Tensor& s) { return tril(s, diagonal); });
  return triangle_("tril_", x, diagonal, true);
}
const Tensor& triu_(const Tensor& x, int64_t diagonal) {
  if (autograd::needs_grad({&x}))
    return inplace_with_grad("triu_", x, [&](const Tensor& s) { return triu(s, diagonal); });
  return triangle_("triu_", x, diagonal, false);
}

namespace {
// tril/triu: a copy with the other triangle zeroed; the gradient is g with
// the same triangle kept.
Tensor triangle(const char* op, const Tensor& x, int64_t k, bool lower) {
  FG_CHECK(x.dim() >= 2, op, ": input tensor must have at least 2 dimensions");
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = clone(x);
    triangle_(op, out, k, lower);
  }
  maybe_record(lower ? "TrilBackward" : "TriuBackward", {x}, {out}, {},
               [k, lower](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {lower ? tril(gs[0], k) : triu(gs[0], k)};
               });
  return out;
}
}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) { return triangle("tril", x, diagonal, true); }
Tensor triu(const Tensor& x, int64_t diagonal) { return triangle("triu", x, diagonal, false); }

}  // namespace fastgrad
