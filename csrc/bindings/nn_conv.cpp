// Bindings for convolution and pooling (private _C functions wrapped by
// python/fastgrad/nn/functional/_conv.py and _pooling.py, which parse
// torch's argument forms and map 1-d / unbatched inputs onto 4-d ones).
#include "bindings/common.h"
#include "ops/conv_ops.h"

namespace fastgrad::bindings {

void bind_nn_conv(py::module_& m) {
  m.def("_conv2d", traced("_conv2d", &conv2d_nn), "input"_a, "weight"_a,
        "bias"_a = py::none(), "stride"_a, "padding"_a, "dilation"_a, "groups"_a,
        "2-d convolution of an (N, C, H, W) input; padding is (top, left, bottom, right).");
  m.def("_max_pool2d", traced("_max_pool2d", &max_pool2d_nn), "input"_a, "kernel_size"_a,
        "stride"_a, "padding"_a, "dilation"_a, "ceil_mode"_a,
        "Max pooling of an (N, C, H, W) input: (values, indices).");
  m.def("_avg_pool2d", traced("_avg_pool2d", &avg_pool2d_nn), "input"_a, "kernel_size"_a,
        "stride"_a, "padding"_a, "ceil_mode"_a, "count_include_pad"_a,
        "divisor_override"_a = py::none(), "Average pooling of an (N, C, H, W) input.");
  m.def("_adaptive_avg_pool2d", traced("_adaptive_avg_pool2d", &adaptive_avg_pool2d_nn),
        "input"_a, "output_size"_a, "Adaptive average pooling of an (N, C, H, W) input.");
  m.def("_adaptive_max_pool2d", traced("_adaptive_max_pool2d", &adaptive_max_pool2d_nn),
        "input"_a, "output_size"_a,
        "Adaptive max pooling of an (N, C, H, W) input: (values, indices).");
}

}  // namespace fastgrad::bindings
