// Shared reduction helpers (see ops/reduce.h).
#include "ops/reduce.h"

#include "autograd/grad_mode.h"
#include "ops/elementwise_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

std::vector<bool> reduce_mask(const char* op, const Tensor& x, const DimList& dims) {
  std::vector<bool> mask(x.dim(), false);
  if (!dims || dims->empty()) return std::vector<bool>(x.dim(), true);
  // A 0-d tensor has one addressable dim (0 or -1) but nothing to reduce.
  std::vector<bool> seen(std::max<int64_t>(x.dim(), 1), false);
  for (int64_t d : *dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    FG_CHECK(!seen[w], op, ": dim ", w, " appears multiple times in the list of dims");
    seen[w] = true;
    if (x.dim() > 0) mask[w] = true;
  }
  return mask;
}

std::vector<bool> reduce_mask(const char* op, const Tensor& x, int64_t dim) {
  return reduce_mask(op, x, DimList(std::vector<int64_t>{dim}));
}

Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
  Shape s;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!mask[d]) s.push_back(x.sizes()[d]);
    else if (keepdim) s.push_back(1);
  }
  return s;
}

void check_nonempty_reduction(const char* op, const Tensor& x,
                              const std::vector<bool>& mask, bool dim_given) {
  if (!dim_given) {
    FG_CHECK(x.numel() != 0, op,
             "(): Expected reduction dim to be specified for input.numel() == 0. "
             "Specify the reduction dim with the 'dim' argument.");
    return;
  }
  for (int64_t d = 0; d < x.dim(); ++d)
    FG_CHECK_INDEX(!mask[d] || x.sizes()[d] != 0, op, "(): Expected reduction dim ",
                   d, " to have non-zero size.");
}

void check_cpu(const char* op, const Tensor& x) {
  if (!x.device().is_cpu())
    fail<NotImplementedError>(op, ": no kernel for device ", x.device());
}

Tensor rows_collapsible(const Tensor& x, std::vector<bool>& mask, bool ordered) {
  if (cpu::reduced_dims_collapse(x, mask, ordered)) return x;
  std::vector<int64_t> order;
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t d = 0; d < x.dim(); ++d)
      if (mask[d] == (pass == 1)) order.push_back(d);
  std::vector<bool> moved(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) moved[d] = mask[order[d]];
  autograd::GradModeGuard no_grad(false);
  Tensor out = contiguous(permute(x, order));
  mask = moved;
  return out;
}

// Note [Lines along strided dims]
bool lines_strided(const Tensor& t, int64_t d) {
  constexpr int64_t kMinNumel = 1 << 14;  // below this the strided walk is cheap
  return t.dim() > 1 && t.numel() >= kMinNumel && t.sizes()[d] > 1 && t.strides()[d] != 1;
}

Tensor line_major(const Tensor& t, int64_t d) {
  autograd::GradModeGuard no_grad(false);
  return contiguous(movedim(t, {d}, {t.dim() - 1}));
}

Tensor line_major_back(const Tensor& t, int64_t d) {
  autograd::GradModeGuard no_grad(false);
  return contiguous(movedim(t, {t.dim() - 1}, {d}));
}

}  // namespace fastgrad
