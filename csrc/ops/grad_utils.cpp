#include "ops/grad_utils.h"

#include <cctype>
#include <string>

#include "ops/reduce_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

std::string backward_name(const char* op) {
  std::string r;
  bool up = true;
  for (const char* c = op; *c; ++c) {
    if (*c == '_') { up = true; continue; }
    r += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(*c))) : *c;
    up = false;
  }
  return r + "Backward";
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.sizes() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.sizes()[i] != 1)) dims.push_back(i);
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return r.sizes() == shape ? r : reshape(r, shape);
}

void check_inplace_autograd(const char* op, const Tensor& self) {
  if (!autograd::grad_enabled()) return;
  FG_CHECK(!(self.requires_grad() && !self.impl()->grad_fn), op,
           ": a leaf Variable that requires grad is being used in an in-place operation. "
           "Wrap it in `with fastgrad.no_grad():` (e.g. for parameter updates) or clone() it.");
  const auto& base = self.impl()->view_base;
  if (!base) return;
  FG_CHECK(!(base->requires_grad && !base->grad_fn), op,
           ": a view of a leaf Variable that requires grad is being used in an in-place "
           "operation. Wrap it in `with fastgrad.no_grad():` or clone() the leaf first.");
  Tensor b(base);
  FG_CHECK(b.is_contiguous(), op, ": in-place operation on a view of a non-contiguous "
           "tensor that requires grad is not supported yet; call .contiguous() on the "
           "base first or use the out-of-place op.");
}

void mark_view(const Tensor& view, const Tensor& base) {
  const auto& root = base.impl()->view_base;
  view.impl()->view_base = root ? root : base.impl_ptr();
  view.impl()->view_version = view.version();
}

}  // namespace fastgrad
