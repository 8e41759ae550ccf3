#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_indexing(py::module_& m, TensorClass& cls) {}

}  // namespace fastgrad::bindings
