// Normalization, dropout and embedding kernels behind fastgrad.nn.functional
// (norm.cpp, dropout.cpp, embedding.cpp). Optional tensors are passed as
// undefined Tensor(). Inputs are checked here, so bad shapes raise with the
// op's name and never reach a kernel; the Python wrappers add module-level
// checks (input rank) on top.
#pragma once
#include "core/generator.h"
#include "core/tensor.h"

namespace fastgrad {

// ---- norm.cpp ------------------------------------------------------------------
// Normalizes over the trailing dims `normalized_shape`, then y * weight + bias
// (each of shape normalized_shape, or undefined).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps);

// x: (N, C, *). Training (or no running stats): batch statistics per channel;
// then, when running stats are given, they are updated in place:
// r = (1 - momentum) r + momentum * stat, with the unbiased variance. Eval:
// normalizes with the running stats.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps);

// x: (N, C, *), C divisible by num_groups; statistics per (sample, group);
// weight/bias per channel.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight,
                  const Tensor& bias, double eps);

// ---- dropout.cpp ---------------------------------------------------------------
// Zeroes each element with probability p, scales the rest by 1 / (1 - p).
// Returns x itself when !train or p == 0.
Tensor dropout(const Tensor& x, double p, bool train, Generator* gen = nullptr);
const Tensor& dropout_(const Tensor& x, double p, bool train, Generator* gen = nullptr);
// Channel dropout: x (N, C, *) or (C, *) when `batched` is false; one draw per
// (sample, channel), shared by the trailing dims.
Tensor feature_dropout(const Tensor& x, double p, bool train, bool batched,
                       Generator* gen = nullptr);
// Keeps mean 0 / variance 1 for SELU inputs: dropped elements become
// a' = -alpha*scale, then an affine correction (Klambauer et al. 2017).
Tensor alpha_dropout(const Tensor& x, double p, bool train, Generator* gen = nullptr);

// ---- embedding.cpp -------------------------------------------------------------
// weight[indices]: indices int32/int64 of any shape; out = indices.shape + (D,).
// padding_idx (already wrapped to >= 0, or -1 for none): its row gets no gradient.
// scale_grad_by_freq: each row's gradient is divided by its count in indices.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx,
                 bool scale_grad_by_freq);
// Rescales (in place, no autograd) the rows of `weight` listed in `indices`
// whose norm_type-norm exceeds max_norm down to max_norm.
const Tensor& embedding_renorm_(const Tensor& weight, const Tensor& indices, double max_norm,
                                double norm_type);

}  // namespace fastgrad
