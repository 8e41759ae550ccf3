// Convolution and pooling kernels behind fastgrad.nn.functional. Every op
// takes a 4-d (N, C, H, W) input; the Python wrappers map unbatched and 1-d
// forms onto it (a 1-d signal is a plane of height 1) and own the
// user-facing argument parsing. Each op records its backward as C++ kernels
// that are themselves recorded ops under create_graph, so higher-order
// gradients work (Note [Conv double backward], Note [Pool double backward]).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "core/tensor.h"

namespace fastgrad {

// 2-d convolution (cross-correlation) by im2col + gemm. weight is
// (O, C / groups, kh, kw); padding is {top, left, bottom, right} so that
// torch's asymmetric 'same' padding needs no copy of the input.
Tensor conv2d_nn(const Tensor& input, const Tensor& weight,
                 const std::optional<Tensor>& bias,
                 const std::vector<int64_t>& stride,
                 const std::vector<int64_t>& padding,
                 const std::vector<int64_t>& dilation, int64_t groups);

// Max pooling; returns (values, indices) with indices flat within each
// (H, W) plane, like torch.
std::tuple<Tensor, Tensor> max_pool2d_nn(const Tensor& input,
                                         const std::vector<int64_t>& kernel,
                                         const std::vector<int64_t>& stride,
                                         const std::vector<int64_t>& padding,
                                         const std::vector<int64_t>& dilation,
                                         bool ceil_mode);
Tensor avg_pool2d_nn(const Tensor& input, const std::vector<int64_t>& kernel,
                     const std::vector<int64_t>& stride,
                     const std::vector<int64_t>& padding, bool ceil_mode,
                     bool count_include_pad,
                     std::optional<int64_t> divisor_override);
Tensor adaptive_avg_pool2d_nn(const Tensor& input,
                              const std::vector<int64_t>& output_size);
std::tuple<Tensor, Tensor> adaptive_max_pool2d_nn(
    const Tensor& input, const std::vector<int64_t>& output_size);

}  // namespace fastgrad
