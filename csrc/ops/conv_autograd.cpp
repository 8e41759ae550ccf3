// conv2d's autograd: the forward op and the recorded pieces of its backward
// (kernels in conv.cpp).
#include "autograd/grad_mode.h"
#include "ops/conv_kernels.h"
#include "ops/conv_ops.h"
#include "ops/elementwise.h"
#include "ops/grad_utils.h"
#include "ops/reduce_ops.h"

namespace fastgrad {

// Note [Conv double backward]: conv2d's output is bilinear in (input,
// weight), so both halves of its backward are linear maps with transposes
// made of the same three kernels: forward conv, input gradient (a transposed
// conv) and weight gradient. Each is a recorded op whose backward calls the
// other two, so derivatives of any order work. The plain backward
// (create_graph=False) keeps the fused kernel that computes both at once.
namespace {

Tensor conv_forward_op(const Tensor& input, const Tensor& weight, const Tensor& b,
                       const ConvGeom& g);
Tensor conv_input_grad(const Tensor& gy, const Tensor& weight, const ConvGeom& g);
Tensor conv_weight_grad(const Tensor& input, const Tensor& gy, const ConvGeom& g);

Tensor conv_forward_op(const Tensor& input, const Tensor& weight, const Tensor& b,
                       const ConvGeom& g) {
  Tensor x, w, bc, y;
  {
    autograd::GradModeGuard no_grad(false);
    x = contiguous(input), w = contiguous(weight);
    if (b.defined()) bc = contiguous(b);
    y = empty({g.N, g.O, g.OH, g.OW}, input.dtype(), input.device());
    conv2d_forward_kernel(g, x, w, bc, y);
  }
  // Saved: the inputs themselves (their history, for create_graph) and the
  // contiguous copies the fused kernel reads (the same tensors when the
  // inputs are contiguous).
  maybe_record("ConvolutionBackward", {input, weight, b}, {y}, {input, weight, x, w},
               [g](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 bool need_x = n.needs_input_grad(0), need_w = n.needs_input_grad(1);
                 Tensor gx, gw, gb;
                 if (autograd::grad_enabled()) {  // create_graph: recorded pieces
                   if (need_x) gx = conv_input_grad(gs[0], n.saved(1), g);
                   if (need_w) gw = conv_weight_grad(n.saved(0), gs[0], g);
                 } else if (need_x || need_w) {
                   Tensor xs = n.saved(2), ws = n.saved(3), gy = contiguous(gs[0]);
                   if (need_x) gx = empty(xs.sizes(), xs.dtype(), xs.device());
                   if (need_w) gw = empty(ws.sizes(), ws.dtype(), ws.device());
                   conv2d_backward_kernel(g, xs, ws, gy, gx, gw);
                 }
                 if (n.needs_input_grad(2)) gb = sum(gs[0], std::vector<int64_t>{0, 2, 3});
                 return {gx, gw, gb};
               });
  return y;
}

// The input gradient: the transposed convolution of gy with weight.
Tensor conv_input_grad(const Tensor& gy, const Tensor& weight, const ConvGeom& g) {
  Tensor gx;
  {
    autograd::GradModeGuard no_grad(false);
    Tensor gyc = contiguous(gy), w = contiguous(weight);
    gx = empty({g.N, g.C, g.H, g.W}, gy.dtype(), gy.device());
    conv2d_backward_kernel(g, Tensor(), w, gyc, gx, Tensor());
  }
  maybe_record("ConvolutionBackwardInput", {gy, weight}, {gx}, {gy, weight},
               [g](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor ggy, gw;
                 if (n.needs_input_grad(0)) ggy = conv_forward_op(gs[0], n.saved(1), Tensor(), g);
                 if (n.needs_input_grad(1)) gw = conv_weight_grad(gs[0], n.saved(0), g);
                 return {ggy, gw};
               });
  return gx;
}

// The weight gradient: the correlation of input with gy.
Tensor conv_weight_grad(const Tensor& input, const Tensor& gy, const ConvGeom& g) {
  Tensor gw;
  {
    autograd::GradModeGuard no_grad(false);
    Tensor x = contiguous(input), gyc = contiguous(gy);
    gw = empty({g.O, g.Cg, g.kh, g.kw}, gy.dtype(), gy.device());
    conv2d_backward_kernel(g, x, Tensor(), gyc, Tensor(), gw);
  }
  maybe_record("ConvolutionBackwardWeight", {input, gy}, {gw}, {input, gy},
               [g](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor gx, ggy;
                 if (n.needs_input_grad(0)) gx = conv_input_grad(n.saved(1), gs[0], g);
                 if (n.needs_input_grad(1)) ggy = conv_forward_op(n.saved(0), gs[0], Tensor(), g);
                 return {gx, ggy};
               });
  return gw;
}

}  // namespace

Tensor conv2d_nn(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                 const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                 const std::vector<int64_t>& dilation, int64_t groups) {
  ConvGeom g = conv2d_geom(input, weight, stride, padding, dilation, groups);
  Tensor b = bias ? *bias : Tensor();
  if (b.defined()) {
    FG_CHECK(b.dim() == 1 && b.size(0) == g.O, "conv2d: expected bias of shape (", g.O,
             "), got ", shape_str(b.sizes()));
    FG_CHECK(b.dtype() == input.dtype(), "conv2d: bias dtype ", b.dtype(),
             " differs from input dtype ", input.dtype());
    FG_CHECK(b.device() == input.device(), "conv2d: expected all tensors on the same device, got ",
             input.device(), " and ", b.device());
  }
  if (is_16bit_float(input.dtype()))  // Note [16-bit floats]
    return to_dtype(conv_forward_op(as_float32(input), as_float32(weight), as_float32(b), g),
                    input.dtype());
  return conv_forward_op(input, weight, b, g);
}

}  // namespace fastgrad
