// Loss functions (PyTorch's torch.nn.functional names and semantics).
//   loss.cpp      pointwise losses: mse, l1, smooth_l1, huber, kl_div, binary
//                 cross entropy (with and without logits)
//   loss_nll.cpp  nll_loss and cross_entropy (class indices or probabilities)
// Forwards are fused kernels (one pass, the reduction folded in). Pointwise
// backward rules are fastgrad ops; nll_loss / cross_entropy have one-pass
// backward kernels that are themselves differentiable (recorded op, or a
// composed path under create_graph; Note [Fused cross entropy]).
// `reduction` is "mean", "sum" or "none" (kl_div also takes "batchmean").
#pragma once
#include <optional>
#include <string>

#include "core/tensor.h"

namespace fastgrad {

// Pointwise losses: target must have input's shape (ValueError otherwise;
// PyTorch broadcasts with a warning). Computed in the promoted float dtype.
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction);
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const std::string& reduction, double beta);
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction,
                  double delta);
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction,
              bool log_target);
// Input must lie in [0, 1]; log terms are clamped at -100 like PyTorch.
// `weight` broadcasts to input's shape.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const std::optional<Tensor>& weight,
                            const std::string& reduction);
// `pos_weight` broadcasts along the last (class) dim.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const std::optional<Tensor>& weight,
                                        const std::optional<Tensor>& pos_weight,
                                        const std::string& reduction);

// input (C), (N, C) or (N, C, d1, ...) of log-probabilities; target int64 of
// shape (), (N) or (N, d1, ...). The weighted mean divides by the summed
// weight of non-ignored targets (nan when all are ignored).
Tensor nll_loss(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
                const std::string& reduction, int64_t ignore_index);
// Class-index targets (int64, as for nll_loss) or class probabilities
// (floating, input's shape).
Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const std::optional<Tensor>& weight, const std::string& reduction,
                     int64_t ignore_index, double label_smoothing);

// ---- shared by loss.cpp and loss_nll.cpp ---------------------------------------
enum class Reduction { None, Mean, Sum };
// Parses "none" | "mean" | "sum" (ValueError naming `op` otherwise).
Reduction parse_reduction(const char* op, const std::string& reduction);
// Reduces a per-element loss tensor.
Tensor apply_reduction(const Tensor& loss, Reduction r);

}  // namespace fastgrad
