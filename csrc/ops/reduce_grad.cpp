// Backward plumbing shared by the reduction rules: a reduced gradient (or a
// reduced output such as amax's) is put back into the input's shape before
// the elementwise part of a rule. expand_reduced records its own backward (a
// sum over the same dims) so that every reduction rule can be differentiated
// again (create_graph=True) with reductions alone.
#include "ops/grad_utils.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace fastgrad {

std::vector<int64_t> mask_dims(const std::vector<bool>& mask) {
  std::vector<int64_t> dims;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<int64_t>(d));
  return dims;
}

Shape keepdim_shape(const Shape& full, const std::vector<bool>& mask) {
  Shape s = full;
  for (size_t d = 0; d < s.size(); ++d)
    if (mask[d]) s[d] = 1;
  return s;
}

double reduced_count(const Shape& full, const std::vector<bool>& mask) {
  double n = 1;
  for (size_t d = 0; d < full.size(); ++d)
    if (mask[d]) n *= static_cast<double>(full[d]);
  return n;
}

Tensor expand_reduced(const Tensor& t, const Shape& full, const std::vector<bool>& mask) {
  Tensor out;
  {
    // The shape ops' own rules (if any) are not wanted here: this op records
    // one node for the whole reshape + expand.
    autograd::GradModeGuard no_grad(false);
    out = expand(reshape(t, keepdim_shape(full, mask)), full);
  }
  // keepdim is visible from t's rank (for a 0-d input both forms coincide).
  bool keepdim = t.dim() == static_cast<int64_t>(full.size());
  maybe_record("ExpandReducedBackward", {t}, {out}, {},
               [mask, keepdim](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {sum(gs[0], mask_dims(mask), keepdim)};
               });
  return out;
}

}  // namespace fastgrad
