// Bindings for fused optimizer steps (private _C functions wrapped in Python).
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_optim(py::module_& m) { (void)m; }

}  // namespace fastgrad::bindings
