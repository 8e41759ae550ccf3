// fastgrad._C.cuda: what the build has (is_available, device_count).
#include "bindings/common.h"

namespace fastgrad {
bool cuda_is_available();
int cuda_device_count();
}

namespace fastgrad::bindings {

void bind_cuda(py::module_& m) {
  auto c = m.def_submodule("_cuda", "CUDA backend queries");
#ifdef FASTGRAD_WITH_CUDA
  c.attr("built") = true;
#else
  c.attr("built") = false;
#endif
  c.def("is_available", &cuda_is_available);
  c.def("device_count", &cuda_device_count);
}

}  // namespace fastgrad::bindings
