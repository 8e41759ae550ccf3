// fastgrad._C._nccl (CUDA builds only): the NCCL communicator behind
// fastgrad.distributed's "nccl" backend (python/fastgrad/distributed/_nccl.py).
// A CPU build has no _nccl, and init_process_group("nccl") says so.
#ifdef FASTGRAD_WITH_CUDA
#include "backend/cuda/nccl.h"
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_nccl(py::module_& m) {
  using cuda::NcclComm;
  using cuda::NcclWork;
  auto n = m.def_submodule("_nccl", "NCCL, loaded at run time");
  n.def("load", &cuda::nccl_load, "candidates"_a,
        "dlopen the first libnccl path that works (no-op once loaded).");
  n.def("version", &cuda::nccl_version);
  n.def("unique_id", [] { return py::bytes(cuda::nccl_unique_id()); });

  py::class_<NcclWork, std::shared_ptr<NcclWork>>(n, "Work")
      .def("wait", &NcclWork::wait, "The current stream waits for the collective.")
      .def("query", &NcclWork::query, "True once the device finished it.");

  // Every rank blocks in the constructor until all have joined: release the GIL.
  py::class_<NcclComm>(n, "Communicator")
      .def(py::init<const std::string&, int, int, int>(), "unique_id"_a, "world_size"_a,
           "rank"_a, "device"_a, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("device", &NcclComm::device)
      .def("all_reduce", &NcclComm::all_reduce, "tensor"_a, "op"_a)
      .def("broadcast", &NcclComm::broadcast, "tensor"_a, "root"_a)
      .def("all_gather", &NcclComm::all_gather, "output"_a, "input"_a)
      .def("reduce_scatter", &NcclComm::reduce_scatter, "output"_a, "input"_a, "op"_a);
}

}  // namespace fastgrad::bindings
#endif
