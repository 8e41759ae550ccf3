// Bindings for convolution and pooling (private _C functions wrapped in Python).
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_nn_conv(py::module_& m) { (void)m; }

}  // namespace fastgrad::bindings
