// Bindings for losses (private _C functions wrapped in Python).
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_nn_loss(py::module_& m) { (void)m; }

}  // namespace fastgrad::bindings
