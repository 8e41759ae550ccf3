// Shared by the binding files: pybind11 casters for Scalar and DType-like
// arguments, and the bind_* entry points module.cpp calls. Keep pybind11 out
// of every other folder.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/scalar.h"
#include "core/tensor.h"
#include "jit/tracer.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace fastgrad::bindings {

using TensorClass = py::class_<Tensor>;

void bind_types(py::module_& m);                       // dtype, device
void bind_tensor(py::module_& m, TensorClass& cls);    // attributes, numpy interop
void bind_dlpack(py::module_& m, TensorClass& cls);    // __dlpack__, _from_dlpack
void bind_elementwise(py::module_& m, TensorClass& cls);
void bind_factories(py::module_& m, TensorClass& cls);
void bind_reductions(py::module_& m, TensorClass& cls);
void bind_shape(py::module_& m, TensorClass& cls);
void bind_indexing(py::module_& m, TensorClass& cls);
void bind_linalg(py::module_& m, TensorClass& cls);
void bind_cuda(py::module_& m);
void bind_nccl(py::module_& m);  // CUDA builds only
void bind_autograd(py::module_& m, TensorClass& cls);
// nn kernels and optimizer steps, exposed as private _C._nn_* / _C._optim_*
// functions that python/fastgrad/nn and optim wrap.
void bind_nn_conv(py::module_& m);   // conv, pooling
void bind_nn_norm(py::module_& m);   // batch/layer norm, dropout, embedding
void bind_nn_loss(py::module_& m);   // losses
void bind_nn_rnn(py::module_& m);    // RNN/LSTM/GRU cells
void bind_optim(py::module_& m);     // fused optimizer steps
void bind_runtime(py::module_& m);   // CPU block cache controls
void bind_jit(py::module_& m);       // the tracer (fastgrad.jit)

// Every binding calls its op through traced() (Note [One tracing hook]).
using jit::traced;

// A Python number (bool, int, float or a numpy scalar), never a Tensor.
bool is_python_scalar(py::handle h);
Scalar to_scalar(py::handle h);

}  // namespace fastgrad::bindings

namespace pybind11::detail {
template <> struct type_caster<fastgrad::Scalar> {
  PYBIND11_TYPE_CASTER(fastgrad::Scalar, const_name("int | float | bool"));
  bool load(handle src, bool) {
    if (!fastgrad::bindings::is_python_scalar(src)) return false;
    value = fastgrad::bindings::to_scalar(src);
    return true;
  }
  static handle cast(const fastgrad::Scalar& s, return_value_policy, handle) {
    if (s.kind == fastgrad::Scalar::Kind::Bool) return PyBool_FromLong(s.i != 0);
    if (s.kind == fastgrad::Scalar::Kind::Int) return PyLong_FromLongLong(s.i);
    return PyFloat_FromDouble(s.f);
  }
};
}  // namespace pybind11::detail
