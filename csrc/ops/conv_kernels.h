// Internal interface between conv2d's kernels (conv.cpp) and its autograd
// (conv_autograd.cpp); not part of the op API (see conv_ops.h).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace fastgrad {

// Sizes of one conv2d problem: batch N, channels C -> O in G groups (Cg, Og
// per group), input H x W, kernel kh x kw, output OH x OW, strides, top/left
// padding and dilations.
struct ConvGeom {
  int64_t N, C, H, W, O, G, Cg, Og, kh, kw, OH, OW, sh, sw, pt, pl, dh, dw;
  int64_t K() const { return Cg * kh * kw; }
  int64_t L() const { return OH * OW; }
  // A 1x1 kernel over the unpadded input at stride 1: the input is its own
  // column matrix, no im2col copy needed.
  bool direct() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 &&
           OH == H && OW == W;
  }
};

// Checks conv2d's arguments (padding: top, left, bottom, right).
ConvGeom conv2d_geom(const Tensor& x, const Tensor& w, const std::vector<int64_t>& stride,
                     const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                     int64_t groups);

// Kernels on contiguous tensors of g's shapes; outputs preallocated. b may be
// undefined. The backward fills whichever of gx (needs w) / gw (needs x) is
// defined.
void conv2d_forward_kernel(const ConvGeom& g, const Tensor& x, const Tensor& w,
                           const Tensor& b, const Tensor& y);
void conv2d_backward_kernel(const ConvGeom& g, const Tensor& x, const Tensor& w,
                            const Tensor& gy, const Tensor& gx, const Tensor& gw);

}  // namespace fastgrad
