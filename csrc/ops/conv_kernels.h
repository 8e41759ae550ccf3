// Internal interface between conv2d's kernels (conv.cpp) and its autograd
// (conv_autograd.cpp); not part of the op API (see conv_ops.h).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "math/host_device.h"

namespace fastgrad {

// Sizes of one conv2d problem: batch N, channels C -> O in G groups (Cg, Og
// per group), input H x W, kernel kh x kw, output OH x OW, strides, top/left
// padding and dilations.
struct ConvGeom {
  int64_t N, C, H, W, O, G, Cg, Og, kh, kw, OH, OW, sh, sw, pt, pl, dh, dw;
  FG_HOST_DEVICE int64_t K() const { return Cg * kh * kw; }
  FG_HOST_DEVICE int64_t L() const { return OH * OW; }
  // A 1x1 kernel over the unpadded input at stride 1: the input is its own
  // column matrix, no im2col copy needed.
  bool direct() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 &&
           OH == H && OW == W;
  }
};

// Note [Conv index math]: the CUDA kernels build one group's (K, L) column
// matrix element by element and gather it back without atomics, through the
// two functions below; the CPU's run-based im2col / col2im loops in conv.cpp
// compute the same maps, and the tests run these on the host against them
// (_C._cuda._conv_columns / _conv_col2im).
//
// Element (r, l) of one group's column matrix, r = (c, ki, kj), l = (oh, ow),
// reads the group's input pixel (c, ih, iw): its offset in the group's
// (Cg, H, W) block, or -1 in the padding.
FG_HOST_DEVICE int64_t im2col_source(const ConvGeom& g, int64_t r, int64_t l) {
  const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
  const int64_t ih = (l / g.OW) * g.sh - g.pt + ki * g.dh;
  const int64_t iw = (l % g.OW) * g.sw - g.pl + kj * g.dw;
  return ih < 0 || ih >= g.H || iw < 0 || iw >= g.W ? -1 : (c * g.H + ih) * g.W + iw;
}

// col2im as a gather: the sum of the entries of one group's column matrix
// that read pixel (c, ih, iw) (the input gradient of that pixel).
template <class T>
FG_HOST_DEVICE T col2im_gather(const ConvGeom& g, const T* col, int64_t c, int64_t ih,
                               int64_t iw) {
  T acc = T(0);
  for (int64_t ki = 0; ki < g.kh; ++ki) {
    const int64_t th = ih + g.pt - ki * g.dh;
    if (th < 0 || th % g.sh != 0 || th / g.sh >= g.OH) continue;
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      const int64_t tw = iw + g.pl - kj * g.dw;
      if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.OW) continue;
      acc += col[((c * g.kh + ki) * g.kw + kj) * g.L() + (th / g.sh) * g.OW + tw / g.sw];
    }
  }
  return acc;
}

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
