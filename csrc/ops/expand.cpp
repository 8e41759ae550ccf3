// Broadcasting views: expand, broadcast_to, broadcast_tensors. Expanded dims
// get stride 0, so every element of such a dim aliases the same memory (such
// views are read-only for in-place ops: see check_writable).
#include "core/check.h"
#include "ops/shape_ops.h"
#include "ops/view_grad.h"

namespace fastgrad {

namespace {
Tensor expand_impl(const char* op, const Tensor& x, const Shape& target) {
  const int64_t n = static_cast<int64_t>(target.size());
  FG_CHECK(n >= x.dim(), op, ": the number of sizes provided (", n,
           ") must be greater or equal to the number of dimensions in the tensor (",
           x.dim(), ")");
  const int64_t lead = n - x.dim();
  Shape sizes(n), strides(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t want = target[i];
    if (i < lead) {
      FG_CHECK(want >= 0, op, ": The expanded size of the tensor (", want,
               ") isn't allowed in a leading, non-existing dimension ", i);
      sizes[i] = want;
      // A new size-1 dim gets the stride a contiguous neighbour would have
      // (PyTorch reports it so); only repeated dims alias with stride 0.
      strides[i] = want != 1 ? 0 : i == n - 1 ? 1 : sizes[i + 1] * strides[i + 1];
      continue;
    }
    int64_t have = x.sizes()[i - lead];
    if (want == -1 || want == have) {
      sizes[i] = have;
      strides[i] = x.strides()[i - lead];
      continue;
    }
    FG_CHECK(have == 1 && want >= 0, op, ": The expanded size of the tensor (",
             want, ") must match the existing size (", have,
             ") at non-singleton dimension ", i, ".  Target sizes: ",
             list_str(target), ".  Tensor sizes: ", list_str(x.sizes()));
    sizes[i] = want;
    strides[i] = 0;
  }
  int64_t numel = 1;
  for (int64_t s : sizes)
    FG_CHECK(!__builtin_mul_overflow(numel, s, &numel), op,
             ": the number of elements of ", list_str(sizes), " overflows int64");
  Tensor out = make_view(x, sizes, strides, x.offset());
  record_view("ExpandBackward", x, out, [](const FunctionNode& n, const Tensors& gs) -> Tensors {
    return {sum_to_grad(gs[0], n.inputs[0].sizes)};
  });
  return out;
}

Shape broadcast_impl(const char* op, const std::vector<Shape>& shapes) {
  Shape out;
  for (const Shape& s : shapes) {
    if (s.size() > out.size()) out.insert(out.begin(), s.size() - out.size(), 1);
    const int64_t lead = static_cast<int64_t>(out.size() - s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[lead + i];
      FG_CHECK(s[i] >= 0, op, ": Trying to create tensor with negative dimension ",
               s[i], ": ", list_str(s));
      FG_CHECK(o == s[i] || o == 1 || s[i] == 1, op, ": shape ", list_str(s),
               " cannot be broadcast with ", list_str(out), ": the size ", s[i],
               " must match the size ", o, " at non-singleton dimension ",
               lead + static_cast<int64_t>(i));
      if (o == 1) o = s[i];
    }
  }
  return out;
}
}  // namespace

Tensor expand(const Tensor& x, const Shape& sizes) {
  return expand_impl("expand", x, sizes);
}

Tensor broadcast_to(const Tensor& x, const Shape& sizes) {
  return expand_impl("broadcast_to", x, sizes);
}

Shape broadcast_shape_list(const std::vector<Shape>& shapes) {
  return broadcast_impl("broadcast_shapes", shapes);
}

Tensors broadcast_tensors(const Tensors& xs) {
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) shapes.push_back(x.sizes());
  Shape shape = broadcast_impl("broadcast_tensors", shapes);
  Tensors out;
  for (const Tensor& x : xs) out.push_back(expand_impl("broadcast_tensors", x, shape));
  return out;
}

}  // namespace fastgrad
